package tenant

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
)

// olderTenant orders Tenants by creation, then by key, so of two Tenants
// with one issuer URL exactly one is older and keeps it.
func olderTenant(a, b *v1alpha1.Tenant) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return client.ObjectKeyFromObject(a).String() < client.ObjectKeyFromObject(b).String()
}

// checkIssuerURL owns the IssuerURLConflict verdict: a Tenant whose issuer
// URL an older Tenant already uses is Stalled and gets no configuration, so
// its issuer never mints tokens carrying the other Tenant's "iss".
func (r *TenantReconciler) checkIssuerURL(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	var list v1alpha1.TenantList
	if err := r.List(ctx, &list, client.MatchingFields{serving.IndexIssuerURL: serving.NormalizedIssuerURL(tenant.Spec.IssuerURL)}); err != nil {
		return fmt.Errorf("listing Tenants with issuer URL %s: %w", tenant.Spec.IssuerURL, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == tenant.UID || !other.DeletionTimestamp.IsZero() || !olderTenant(other, tenant) {
			continue
		}
		obs.issuerURLProblem = &status.Problem{Reason: v1alpha1.ReasonIssuerURLConflict, Stalls: true,
			Message: fmt.Sprintf("spec.issuerURL %q is already the issuer URL of Tenant %s (created earlier): two issuers cannot share one URL, their tokens would carry the same \"iss\". Choose another spec.issuerURL; no issuer configuration is rendered until then",
				tenant.Spec.IssuerURL, client.ObjectKeyFromObject(other))}
		return nil
	}
	return nil
}

// sameIssuerURL maps a Tenant to the other Tenants with its issuer URL: when
// the older one goes away or moves, the younger one may take the URL.
func (r *TenantReconciler) sameIssuerURL(ctx context.Context, o client.Object) []reconcile.Request {
	t := o.(*v1alpha1.Tenant)
	reqs := serving.ListRequests(ctx, r.Client, &v1alpha1.TenantList{}, client.MatchingFields{serving.IndexIssuerURL: serving.NormalizedIssuerURL(t.Spec.IssuerURL)})
	out := reqs[:0]
	for _, req := range reqs {
		if req.NamespacedName != client.ObjectKeyFromObject(t) {
			out = append(out, req)
		}
	}
	return out
}
