package tenant

import (
	"context"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	"github.com/idtenant/idtenant/internal/issuerconfig"
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
		if err := s.cache.List(ctx, &leases, client.MatchingLabels{serving.LabelManagedBy: serving.ManagedBy}); err != nil {
			log.FromContext(ctx).Error(err, "listing issuer Leases to find stale replicas; retrying")
			continue
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
// the liveness to compare with next time. A Lease not seen before counts as
// having been live if it has a holder: a replica that went stale between a
// Tenant's reconcile and the first look (at start, after a leader change)
// still wakes it; a Lease claimed since the last look was an event of its
// own.
func livenessChanged(leases []coordinationv1.Lease, wasLive map[types.NamespacedName]bool, now time.Time) (map[types.NamespacedName]bool, []*v1alpha1.Tenant) {
	live := make(map[types.NamespacedName]bool, len(leases))
	seen := map[types.NamespacedName]bool{}
	var changed []*v1alpha1.Tenant
	for i := range leases {
		l := &leases[i]
		key := types.NamespacedName{Namespace: l.Namespace, Name: l.Name}
		live[key] = issuerconfig.Live(l, now)
		before, seenBefore := wasLive[key]
		if !seenBefore {
			before = l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != ""
		}
		owner, ok := slotOwner(l)
		if before == live[key] || !ok {
			continue
		}
		tenant := types.NamespacedName{Namespace: l.Namespace, Name: owner}
		if !seen[tenant] {
			seen[tenant] = true
			changed = append(changed, &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: tenant.Namespace, Name: tenant.Name}})
		}
	}
	return live, changed
}

// slotOwner is the Tenant whose slot l is. An issuer may edit its own
// Lease, owner references included, so the owner named there is believed
// only if the Lease's name (which nobody can change) is one of that
// Tenant's slot names — as observeIssuer counts slots by name.
func slotOwner(l *coordinationv1.Lease) (string, bool) {
	owner := metav1.GetControllerOf(l)
	if owner == nil || owner.Kind != "Tenant" || !strings.HasPrefix(owner.APIVersion, v1alpha1.GroupVersion.Group+"/") {
		return "", false
	}
	if _, ok := issuerconfig.LeaseSlot(owner.Name, l.Name); !ok {
		return "", false
	}
	return owner.Name, true
}
