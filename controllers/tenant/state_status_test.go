package tenant

import (
	"testing"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/lifetime"
	"github.com/idtenant/idtenant/internal/statedb"
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
	if got := stateStatus(tenant, tenantObservation{effective: kube, state: &v1alpha1.StateStatus{}}); got.Backend != v1alpha1.StateKubernetes {
		t.Errorf("backend %q, want Kubernetes", got.Backend)
	}
}

// With PostgreSQL, status names the schema and, once migrated, its
// version; a Kubernetes store's last numbers are not shown as the new
// store's.
func TestStateStatusPostgreSQL(t *testing.T) {
	pg := lifetime.Tenant{StateType: v1alpha1.StatePostgreSQL}
	tenant := &v1alpha1.Tenant{Status: v1alpha1.TenantStatus{State: &v1alpha1.StateStatus{Backend: v1alpha1.StateKubernetes, Sessions: 7}}}
	db := &stateObservation{database: &issuerconfig.StateDatabase{Schema: "idtenant_a_b"},
		check: statedb.Check{Reason: v1alpha1.ReasonStateChecking}}
	got := stateStatus(tenant, tenantObservation{effective: pg, stateDB: db})
	if got == nil || got.Sessions != 0 || got.Backend != v1alpha1.StatePostgreSQL || got.Schema != "idtenant_a_b" || got.SchemaVersion != 0 {
		t.Errorf("before the first check: %+v, want the schema and no numbers", got)
	}
	db.check = statedb.Check{Reason: v1alpha1.ReasonStateReady, Migration: postgres.Migration{From: 1, To: 2}}
	got = stateStatus(tenant, tenantObservation{effective: pg, stateDB: db, state: &v1alpha1.StateStatus{Sessions: 3}})
	if got.Sessions != 3 || got.SchemaVersion != 2 {
		t.Errorf("after a check and a count: %+v", got)
	}
}
