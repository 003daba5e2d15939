package tenant

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestTenantPassesWindow: full passes of a Tenant are spaced by three
// times the last one's duration, at most maxCoalesceWindow, and a spec
// change (or a new Tenant of the same name) never waits.
func TestTenantPassesWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: "id", Name: "acme", UID: "u1", Generation: 3}}
	var p tenantPasses
	if wait, _ := p.window(tenant, t0); wait != 0 {
		t.Fatalf("no pass yet: wait = %v, want 0", wait)
	}
	p.record(tenant, t0, t0.Add(100*time.Millisecond), tenantObservation{applications: 7})
	wait, last := p.window(tenant, t0.Add(100*time.Millisecond))
	if wait != 200*time.Millisecond || last.applications != 7 {
		t.Fatalf("right after a 100ms pass: wait = %v (want 200ms), observed %d Applications (want 7)", wait, last.applications)
	}
	if wait, _ := p.window(tenant, t0.Add(300*time.Millisecond)); wait != 0 {
		t.Fatalf("after the window: wait = %v, want 0", wait)
	}
	changed := tenant.DeepCopy()
	changed.Generation++
	if wait, _ := p.window(changed, t0.Add(time.Millisecond)); wait != 0 {
		t.Fatalf("spec changed: wait = %v, want 0", wait)
	}
	recreated := tenant.DeepCopy()
	recreated.UID = "u2"
	if wait, _ := p.window(recreated, t0.Add(time.Millisecond)); wait != 0 {
		t.Fatalf("recreated Tenant: wait = %v, want 0", wait)
	}
	p.record(tenant, t0, t0.Add(5*time.Second), tenantObservation{})
	if wait, _ := p.window(tenant, t0.Add(5*time.Second)); wait != 0 {
		t.Fatalf("a 5s pass: the window is capped at %v from its start, wait = %v", maxCoalesceWindow, wait)
	}
}
