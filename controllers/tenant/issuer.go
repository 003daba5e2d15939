package tenant

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// issuerReplicas is what the Lease slots say about the running issuer.
type issuerReplicas struct {
	live, synced int32
	// served is the oldest generation among live replicas.
	served int64
	// errors are the load errors live replicas report, "<holder>: <error>".
	errors []string
}

// observeIssuer reads the Lease slots the issuer replicas renew.
func (r *TenantReconciler) observeIssuer(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	var leases coordinationv1.LeaseList
	if err := r.List(ctx, &leases, client.InNamespace(tenant.Namespace), client.MatchingLabels(ownedLabels(tenant))); err != nil {
		return fmt.Errorf("listing issuer Leases: %w", err)
	}
	// Count only this Tenant's slots by name: an issuer may edit its own
	// Lease (labels included) but cannot rename it, so another Tenant's
	// issuer cannot pose as one of ours.
	slots := issuerconfig.LeaseSlots(obs.effective.Replicas)
	mine := leases.Items[:0]
	for _, l := range leases.Items {
		if i, ok := issuerconfig.LeaseSlot(tenant.Name, l.Name); ok && i < slots {
			mine = append(mine, l)
		}
	}
	obs.replicas = summarizeLeases(mine, obs.config.generation, r.now())
	return nil
}

// summarizeLeases is the pure part of observeIssuer.
func summarizeLeases(leases []coordinationv1.Lease, rendered int64, now time.Time) issuerReplicas {
	var out issuerReplicas
	for i := range leases {
		l := &leases[i]
		if !issuerconfig.Live(l, now) {
			continue
		}
		out.live++
		gen, _ := strconv.ParseInt(l.Annotations[issuerconfig.AnnotationServedGeneration], 10, 64)
		if gen == rendered {
			out.synced++
		}
		if out.live == 1 || gen < out.served { // the first live one, or older
			out.served = gen
		}
		if e := l.Annotations[issuerconfig.AnnotationConfigError]; e != "" {
			out.errors = append(out.errors, *l.Spec.HolderIdentity+": "+e)
		}
	}
	sort.Strings(out.errors)
	return out
}

// setIssuerConditions derives IssuerAvailable and IssuerSynced.
func setIssuerConditions(conds *[]metav1.Condition, gen int64, rendered int64, replicas issuerReplicas) {
	if replicas.live == 0 {
		msg := "No issuer replica has reported through its Lease yet (or every Lease went stale)."
		status.BoolCondition(conds, gen, v1alpha1.ConditionIssuerAvailable, false, v1alpha1.ReasonNoReplicaReporting, msg)
		status.BoolCondition(conds, gen, v1alpha1.ConditionIssuerSynced, false, v1alpha1.ReasonNoReplicaReporting, msg)
		return
	}
	status.BoolCondition(conds, gen, v1alpha1.ConditionIssuerAvailable, true, v1alpha1.ReasonReplicasServing,
		fmt.Sprintf("%d issuer replica(s) up.", replicas.live))
	if replicas.synced == replicas.live && rendered > 0 {
		status.BoolCondition(conds, gen, v1alpha1.ConditionIssuerSynced, true, v1alpha1.ReasonGenerationServed,
			fmt.Sprintf("Every live replica (%d) serves configuration generation %d.", replicas.live, rendered))
		return
	}
	msg := fmt.Sprintf("%d of %d live replicas serve configuration generation %d.", replicas.synced, replicas.live, rendered)
	if len(replicas.errors) > 0 {
		msg += " Load errors: " + strings.Join(replicas.errors, "; ")
	}
	status.BoolCondition(conds, gen, v1alpha1.ConditionIssuerSynced, false, v1alpha1.ReasonGenerationPending, msg)
}

// leaseReportChanged passes Lease events that change what a replica reports
// (holder, generation, error) and drops plain renewals, which happen every
// few seconds per replica.
var leaseReportChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*coordinationv1.Lease), e.ObjectNew.(*coordinationv1.Lease)
		holder := func(l *coordinationv1.Lease) string {
			if l.Spec.HolderIdentity == nil {
				return ""
			}
			return *l.Spec.HolderIdentity
		}
		return holder(o) != holder(n) ||
			o.Annotations[issuerconfig.AnnotationServedGeneration] != n.Annotations[issuerconfig.AnnotationServedGeneration] ||
			o.Annotations[issuerconfig.AnnotationConfigError] != n.Annotations[issuerconfig.AnnotationConfigError]
	},
}
