package tenant

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func connectionsTo(issuers ...string) []v1alpha1.Connection {
	var out []v1alpha1.Connection
	for i, u := range issuers {
		out = append(out, v1alpha1.Connection{Name: fmt.Sprintf("c%d", i), OIDC: v1alpha1.OIDCConnection{IssuerURL: u}})
	}
	return out
}

// TestDiscoveryRunsOffTheReconcilePath (security review N9): a Tenant's
// reconcile never waits for an upstream: the first lookup answers
// "pending" while the check runs in the background, Tenants asking for the
// same issuer share one check, every one of them is woken with the result,
// and the checks in flight are bounded whatever the number of issuers.
func TestDiscoveryRunsOffTheReconcilePath(t *testing.T) {
	d := newDiscoveryChecks(time.Now)
	release := make(chan struct{})
	var calls, inFlight, most atomic.Int32
	d.fetch = func(ctx context.Context, issuer string) (string, string) {
		calls.Add(1)
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inFlight.Add(-1)
		return v1alpha1.ReasonDiscoveryFailed, "discovery request failed: unreachable"
	}
	a, b := types.NamespacedName{Namespace: "id", Name: "a"}, types.NamespacedName{Namespace: "id", Name: "b"}
	const slow = "https://slow.example"
	if got := d.lookup(a, connectionsTo(slow, slow), time.Now())[slow]; !got.pending {
		t.Fatalf("first lookup: %+v, want pending while the check runs", got)
	}
	if got := d.lookup(b, connectionsTo(slow), time.Now())[slow]; !got.pending {
		t.Fatalf("second Tenant: %+v, want pending", got)
	}
	close(release)
	woken := map[string]bool{}
	for len(woken) < 2 {
		select {
		case e := <-d.wake:
			woken[e.Object.GetName()] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("woken %v, want both Tenants that asked", woken)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d checks of one issuer asked for by two Tenants, want 1", n)
	}
	got := d.lookup(a, connectionsTo(slow), time.Now())[slow]
	if got.pending || got.reason != v1alpha1.ReasonDiscoveryFailed {
		t.Errorf("after the check: %+v", got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a fresh result was checked again")
	}

	// Many issuers: at most concurrentDiscoveryChecks at once.
	block := make(chan struct{})
	var wg sync.WaitGroup
	d.fetch = func(ctx context.Context, issuer string) (string, string) {
		defer wg.Done()
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-block
		inFlight.Add(-1)
		return "", "ok"
	}
	most.Store(0)
	var many []string
	for i := range 3 * concurrentDiscoveryChecks {
		many = append(many, fmt.Sprintf("https://up%d.example", i))
	}
	wg.Add(len(many))
	d.lookup(a, connectionsTo(many...), time.Now())
	time.Sleep(100 * time.Millisecond) // let the workers pile up on the slots
	close(block)
	wg.Wait()
	if m := most.Load(); m > concurrentDiscoveryChecks || m == 0 {
		t.Errorf("%d checks in flight at once, want 1 to %d", m, concurrentDiscoveryChecks)
	}
}
