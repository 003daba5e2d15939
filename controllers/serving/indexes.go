package serving

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Cache indexes that let a change to one object find its dependents without
// listing everything.
const (
	// IndexTenant keys Applications and APIs by "<namespace>/<name>" of the
	// Tenant they refer to.
	IndexTenant = ".spec.tenantRef"
	// IndexAPIs keys Applications by "<namespace>/<name>" of each API they
	// list in spec.apis.
	IndexAPIs = ".spec.apis"
)

func SetupIndexes(ctx context.Context, mgr manager.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.Application{}, IndexTenant, func(o client.Object) []string {
		a := o.(*v1alpha1.Application)
		return []string{TenantKey(a.Spec.TenantRef, a.Namespace).String()}
	}); err != nil {
		return fmt.Errorf("indexing Applications by tenant: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.API{}, IndexTenant, func(o client.Object) []string {
		a := o.(*v1alpha1.API)
		return []string{TenantKey(a.Spec.TenantRef, a.Namespace).String()}
	}); err != nil {
		return fmt.Errorf("indexing APIs by tenant: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.Tenant{}, IndexIssuerURL, func(o client.Object) []string {
		return []string{NormalizedIssuerURL(o.(*v1alpha1.Tenant).Spec.IssuerURL)}
	}); err != nil {
		return fmt.Errorf("indexing Tenants by issuer URL: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.Application{}, IndexAPIs, func(o client.Object) []string {
		a := o.(*v1alpha1.Application)
		keys := make([]string, 0, len(a.Spec.APIs))
		for _, ref := range a.Spec.APIs {
			keys = append(keys, APIKey(ref, a.Namespace))
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

func APIKey(ref v1alpha1.APIAccess, ownNamespace string) string {
	ns := ref.Namespace
	if ns == "" {
		ns = ownNamespace
	}
	return ns + "/" + ref.Name
}

func Ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// ListRequests lists objects into list and turns them into reconcile
// requests: the body of every "this changed, reconcile those" map function.
func ListRequests(ctx context.Context, c client.Reader, list client.ObjectList, opts ...client.ListOption) []reconcile.Request {
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

// IndexIssuerURL keys Tenants by their normalized issuer URL.
const IndexIssuerURL = ".spec.issuerURL"

// NormalizedIssuerURL is the form two issuer URLs are compared in: scheme
// and host lower-cased, the default port and a trailing slash dropped.
// Two Tenants whose URLs normalize alike would be reached at one address and
// mint tokens verifiers cannot tell apart.
func NormalizedIssuerURL(raw string) string {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || u.Host == "" {
		return strings.ToLower(strings.TrimSuffix(raw, "/"))
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host + strings.TrimSuffix(u.EscapedPath(), "/")
}

// IndexUsersSecret keys Tenants by "<namespace>/<name>" of the Secrets
// they read: spec.usersSecretRef, every connection's clientSecretRef and
// the PostgreSQL state store's secretRef.
const IndexUsersSecret = ".spec.usersSecretRef"

func indexTenantsByUsersSecret(ctx context.Context, mgr manager.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Tenant{}, IndexUsersSecret, func(o client.Object) []string {
		t := o.(*v1alpha1.Tenant)
		var keys []string
		if t.Spec.UsersSecretRef != nil {
			keys = append(keys, types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.UsersSecretRef.Name}.String())
		}
		for _, c := range t.Spec.Connections {
			if ref := c.OIDC.ClientSecretRef; ref != nil {
				keys = append(keys, types.NamespacedName{Namespace: t.Namespace, Name: ref.Name}.String())
			}
		}
		if st := t.Spec.State; st != nil && st.PostgreSQL != nil {
			keys = append(keys, types.NamespacedName{Namespace: t.Namespace, Name: st.PostgreSQL.SecretRef.Name}.String())
		}
		return keys
	})
}
