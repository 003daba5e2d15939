package tenant

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// recordAudienceClaims writes the claims gatherServed decided to the
// Tenant's status before anything is rendered: a claim must be on record
// before its API is served, so that the API can be deleted and recreated
// without another namespace taking the audience in between.
func (r *TenantReconciler) recordAudienceClaims(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	if equality.Semantic.DeepEqual(tenant.Status.AudienceClaims, obs.audienceClaims) {
		return nil
	}
	before := tenant.DeepCopy()
	tenant.Status.AudienceClaims = obs.audienceClaims
	if err := r.Status().Patch(ctx, tenant, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("recording audience claims of Tenant %s: %w", client.ObjectKeyFromObject(tenant), err)
	}
	return nil
}
