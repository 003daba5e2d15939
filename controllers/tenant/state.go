package tenant

import (
	"context"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// observeState picks up the state collector's latest numbers for status
// (internal/statecollector counts and collects the records).
func (r *TenantReconciler) observeState(_ context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	if r.State != nil {
		obs.state = r.State.Get(tenant)
	}
	return nil
}
