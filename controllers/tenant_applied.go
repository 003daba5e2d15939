package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// appliedObjects remembers, per object the Tenant reconciler applies, what
// it applied last and the resourceVersion the API server gave the result.
// While the cached object still has that resourceVersion nobody changed
// it, and applying the same content again would only cost the API server
// a server-side apply: a tenant rendering a new configuration every second
// would send five of them each time. Any change to the object (an edit, a
// controller writing its status) gives it a new resourceVersion, and the
// next reconcile applies again, which repairs drift as before.
type appliedObjects struct {
	mu sync.Mutex
	m  map[string]appliedRecord
}

type appliedRecord struct {
	digest          [sha256.Size]byte
	resourceVersion string
}

// unchanged reports whether obj, as about to be applied, equals what was
// applied last and the cache still holds that result. remember records a
// successful apply of obj (its resourceVersion as the server returned it).
func (a *appliedObjects) unchanged(ctx context.Context, cache client.Reader, obj client.Object) (bool, func(client.Object), error) {
	content, err := json.Marshal(obj)
	if err != nil {
		return false, nil, fmt.Errorf("encoding %T %s: %w", obj, obj.GetName(), err)
	}
	digest := sha256.Sum256(content)
	key := fmt.Sprintf("%T %s/%s", obj, obj.GetNamespace(), obj.GetName())
	remember := func(applied client.Object) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.m == nil {
			a.m = map[string]appliedRecord{}
		}
		a.m[key] = appliedRecord{digest: digest, resourceVersion: applied.GetResourceVersion()}
	}
	a.mu.Lock()
	last, ok := a.m[key]
	a.mu.Unlock()
	if !ok || last.digest != digest {
		return false, remember, nil
	}
	cached := obj.DeepCopyObject().(client.Object)
	if err := cache.Get(ctx, client.ObjectKeyFromObject(obj), cached); err != nil {
		return false, remember, client.IgnoreNotFound(err)
	}
	return cached.GetResourceVersion() == last.resourceVersion, remember, nil
}
