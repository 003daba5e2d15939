package controllers

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/follow"
)

// staleLeases wakes a Tenant when one of its issuer replicas stops
// renewing its Lease slot, or starts again after a pause. Neither causes an
// event the Tenant reconciler sees: a replica that dies writes nothing, and
// plain renewals are filtered out (leaseReportChanged). So something must
// look at the clock; doing it here, over the manager's in-memory cache once
// a second, means the Tenant reconciler runs (and re-renders its whole
// configuration) only when a replica's liveness really changed, not every
// Lease period for every Tenant with live replicas.
type staleLeases struct {
	cache  client.Reader
	now    func() time.Time
	events chan<- event.TypedGenericEvent[client.Object]
	// period between looks; one second when zero.
	period time.Duration
}

// Start implements manager.Runnable; it runs on the leader only (the
// default for runnables), like the reconcilers it wakes.
func (s *staleLeases) Start(ctx context.Context) error {
	period := s.period
	if period == 0 {
		period = time.Second
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	wasLive := map[types.NamespacedName]bool{} // every Lease seen last time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var leases coordinationv1.LeaseList
		if err := s.cache.List(ctx, &leases, client.MatchingLabels{labelManagedBy: managedBy}); err != nil {
			continue // the cache is not synced yet; the next tick retries
		}
		var changed []*v1alpha1.Tenant
		wasLive, changed = livenessChanged(leases.Items, wasLive, s.now())
		for _, tenant := range changed {
			select {
			case s.events <- event.TypedGenericEvent[client.Object]{Object: tenant}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// livenessChanged is the pure part of Start: the Tenants owning a Lease
// that was live at the previous look and is not now, or the reverse, and
// the liveness to compare with next time. A Lease seen for the first time
// wakes nobody: its claim was an event of its own, and at start every
// Tenant is reconciled anyway.
func livenessChanged(leases []coordinationv1.Lease, wasLive map[types.NamespacedName]bool, now time.Time) (map[types.NamespacedName]bool, []*v1alpha1.Tenant) {
	live := make(map[types.NamespacedName]bool, len(leases))
	seen := map[types.NamespacedName]bool{}
	var changed []*v1alpha1.Tenant
	for i := range leases {
		l := &leases[i]
		key := types.NamespacedName{Namespace: l.Namespace, Name: l.Name}
		live[key] = follow.Live(l, now)
		owner := metav1.GetControllerOf(l)
		before, seenBefore := wasLive[key]
		if !seenBefore || before == live[key] || owner == nil || owner.Kind != "Tenant" {
			continue
		}
		tenant := types.NamespacedName{Namespace: l.Namespace, Name: owner.Name}
		if !seen[tenant] {
			seen[tenant] = true
			changed = append(changed, &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: tenant.Namespace, Name: tenant.Name}})
		}
	}
	return live, changed
}
