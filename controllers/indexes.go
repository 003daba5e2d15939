package controllers

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Cache indexes that let a change to one object find its dependents without
// listing everything.
const (
	// indexTenant keys Applications and APIs by "<namespace>/<name>" of the
	// Tenant they refer to.
	indexTenant = ".spec.tenantRef"
	// indexAPIs keys Applications by "<namespace>/<name>" of each API they
	// list in spec.apis.
	indexAPIs = ".spec.apis"
)

func setupIndexes(ctx context.Context, mgr manager.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.Application{}, indexTenant, func(o client.Object) []string {
		a := o.(*v1alpha1.Application)
		return []string{tenantKey(a.Spec.TenantRef, a.Namespace).String()}
	}); err != nil {
		return fmt.Errorf("indexing Applications by tenant: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.API{}, indexTenant, func(o client.Object) []string {
		a := o.(*v1alpha1.API)
		return []string{tenantKey(a.Spec.TenantRef, a.Namespace).String()}
	}); err != nil {
		return fmt.Errorf("indexing APIs by tenant: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.Application{}, indexAPIs, func(o client.Object) []string {
		a := o.(*v1alpha1.Application)
		keys := make([]string, 0, len(a.Spec.APIs))
		for _, ref := range a.Spec.APIs {
			keys = append(keys, apiKey(ref, a.Namespace))
		}
		return keys
	}); err != nil {
		return fmt.Errorf("indexing Applications by API: %w", err)
	}
	return nil
}

func apiKey(ref v1alpha1.APIAccess, ownNamespace string) string {
	ns := ref.Namespace
	if ns == "" {
		ns = ownNamespace
	}
	return ns + "/" + ref.Name
}

// requestsFor turns a list of objects into reconcile requests.
func requestsFor[T client.Object](items []T) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for _, it := range items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(it)})
	}
	return out
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// splitKey splits "<namespace>/<name>".
func splitKey(key string) (namespace, name string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}
