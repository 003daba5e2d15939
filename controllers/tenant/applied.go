package tenant

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

// appliedKey names obj in appliedObjects.
func appliedKey(obj client.Object) string {
	return fmt.Sprintf("%T %s/%s", obj, obj.GetNamespace(), obj.GetName())
}

// unchanged reports whether obj, as about to be applied, equals what was
// applied last and the cache still holds that result; digest is obj's
// content, for remember after the apply.
func (a *appliedObjects) unchanged(ctx context.Context, cache client.Reader, obj client.Object) (same bool, digest [sha256.Size]byte, err error) {
	content, err := json.Marshal(obj)
	if err != nil {
		return false, digest, fmt.Errorf("encoding %T %s: %w", obj, obj.GetName(), err)
	}
	digest = sha256.Sum256(content)
	a.mu.Lock()
	last, ok := a.m[appliedKey(obj)]
	a.mu.Unlock()
	if !ok || last.digest != digest {
		return false, digest, nil
	}
	cached := obj.DeepCopyObject().(client.Object)
	if err := cache.Get(ctx, client.ObjectKeyFromObject(obj), cached); err != nil {
		return false, digest, client.IgnoreNotFound(err)
	}
	return cached.GetResourceVersion() == last.resourceVersion, digest, nil
}

// remember records a successful apply of content digest as applied, with
// the resourceVersion the server returned.
func (a *appliedObjects) remember(applied client.Object, digest [sha256.Size]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]appliedRecord{}
	}
	a.m[appliedKey(applied)] = appliedRecord{digest: digest, resourceVersion: applied.GetResourceVersion()}
}
