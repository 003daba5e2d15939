package tenant

import (
	"testing"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// Status shows the collector's count with the Kubernetes store, keeps the
// last published one until a new leader has counted, and shows nothing
// for the Memory store.
func TestStateStatus(t *testing.T) {
	last := &v1alpha1.StateStatus{Sessions: 7}
	fresh := &v1alpha1.StateStatus{Sessions: 9}
	tenant := &v1alpha1.Tenant{Status: v1alpha1.TenantStatus{State: last}}
	kube := lifetime.Tenant{StateType: v1alpha1.StateKubernetes}
	if got := stateStatus(tenant, tenantObservation{effective: kube, state: fresh}); got.Sessions != 9 {
		t.Errorf("fresh count not shown: %+v", got)
	}
	if got := stateStatus(tenant, tenantObservation{effective: kube}); got == nil || got.Sessions != 7 || got == last {
		t.Errorf("last count not kept (as a copy): %+v", got)
	}
	if got := stateStatus(tenant, tenantObservation{effective: lifetime.Tenant{StateType: v1alpha1.StateMemory}, state: fresh}); got != nil {
		t.Errorf("Memory store: %+v, want no state status", got)
	}
}
