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
	for i := range queuedPerTenant { // twice the slots

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

// TestDiscoveryQueueIsBounded (review of N9): one Tenant asking for ever
// new issuers (an editor re-pointing connections at slow hosts) holds at
// most queuedPerTenant checks, and another Tenant's check still starts.
func TestDiscoveryQueueIsBounded(t *testing.T) {
	d := newDiscoveryChecks(time.Now)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	var started atomic.Int32
	d.fetch = func(ctx context.Context, issuer string) (string, string) {
		started.Add(1)
		<-block
		return "", "ok"
	}
	editor, other := types.NamespacedName{Namespace: "a", Name: "a"}, types.NamespacedName{Namespace: "b", Name: "b"}
	for round := range 50 {
		var issuers []string
		for i := range 16 {
			issuers = append(issuers, fmt.Sprintf("https://blackhole-%d-%d.example", round, i))
		}
		d.lookup(editor, connectionsTo(issuers...), time.Now())
	}
	d.mu.Lock()
	queued, editorQueued := len(d.running), d.queuedFor(editor)
	d.mu.Unlock()
	if editorQueued > queuedPerTenant || queued > queuedPerTenant {
		t.Errorf("one Tenant queued %d checks (%d in all), want at most %d", editorQueued, queued, queuedPerTenant)
	}
	d.lookup(other, connectionsTo("https://login.other.example"), time.Now())
	d.mu.Lock()
	otherQueued := d.queuedFor(other)
	d.mu.Unlock()
	if otherQueued != 1 {
		t.Errorf("another Tenant's check was not queued beside the editor's")
	}
}
