package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"

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
	if err := idx.IndexField(ctx, &v1alpha1.Tenant{}, indexIssuerURL, func(o client.Object) []string {
		return []string{normalizedIssuerURL(o.(*v1alpha1.Tenant).Spec.IssuerURL)}
	}); err != nil {
		return fmt.Errorf("indexing Tenants by issuer URL: %w", err)
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
	if err := indexTenantsByUsersSecret(ctx, mgr); err != nil {
		return fmt.Errorf("indexing Tenants by users Secret: %w", err)
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

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// listRequests lists objects into list and turns them into reconcile
// requests: the body of every "this changed, reconcile those" map function.
func listRequests(ctx context.Context, c client.Reader, list client.ObjectList, opts ...client.ListOption) []reconcile.Request {
	// Only names are read: no need to copy thousands of cached objects.
	opts = append(opts, client.UnsafeDisableDeepCopy)
	if err := c.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing dependents to reconcile", "list", fmt.Sprintf("%T", list))
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}
