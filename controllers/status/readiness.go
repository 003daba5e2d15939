package status

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// Readiness is the overall verdict of one reconcile, from which the kstatus
// conditions (Ready, Reconciling, Stalled) are derived. Exactly one of
// ready, waiting and stalled holds.
type Readiness struct {
	// ready: everything resolved; message is the plain-English summary.
	ready bool
	// waiting: the object cannot be served yet but will converge without a
	// spec change once something else appears (a missing Tenant or API), so
	// Reconciling=True.
	waiting bool
	// stalled: only a change to this or another object's spec can fix it
	// (a policy violation, a namespace the Tenant does not admit), so
	// Stalled=True and no retry loop.
	stalled bool
	reason  string
	message string
}

func ReadyWith(message string) Readiness {
	return Readiness{ready: true, reason: v1alpha1.ReasonReady, message: message}
}

func waitingFor(reason, message string) Readiness {
	return Readiness{waiting: true, reason: reason, message: message}
}

func stalledBy(reason, message string) Readiness {
	return Readiness{stalled: true, reason: reason, message: message}
}

// SetKstatusConditions writes Ready, and Reconciling or Stalled only while
// true, so `kubectl wait`, Argo CD and Flux (kstatus) read the object right.
func SetKstatusConditions(conds *[]metav1.Condition, generation int64, r Readiness) {
	status := metav1.ConditionFalse
	if r.ready {
		status = metav1.ConditionTrue
	}
	SetCondition(conds, generation, v1alpha1.ConditionReady, status, r.reason, r.message)
	if r.waiting {
		SetCondition(conds, generation, v1alpha1.ConditionReconciling, metav1.ConditionTrue, r.reason, r.message)
	} else {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
	}
	if r.stalled {
		SetCondition(conds, generation, v1alpha1.ConditionStalled, metav1.ConditionTrue, r.reason, r.message)
	} else {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
	}
}

// SetCondition sets one condition, keeping lastTransitionTime when the status
// did not change.
func SetCondition(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            Truncate(message, 32768),
		ObservedGeneration: generation,
	})
}

// BoolCondition sets a domain condition that is True with one reason and
// False with another.
func BoolCondition(conds *[]metav1.Condition, generation int64, typ string, value bool, reason, message string) {
	status := metav1.ConditionFalse
	if value {
		status = metav1.ConditionTrue
	}
	SetCondition(conds, generation, typ, status, reason, message)
}

func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}

// markTransient reports a reconcile that failed on something other than the
// objects' specs (the API server, a cache not yet synced): Ready=Unknown and
// Reconciling=True with the error, every other status field left as last
// observed. Deriving status from a half-filled observation would state
// wrong facts with confidence.
func markTransient(conds *[]metav1.Condition, generation int64, err error) {
	msg := "Retrying after an error: " + err.Error()
	SetCondition(conds, generation, v1alpha1.ConditionReady, metav1.ConditionUnknown, v1alpha1.ReasonReconcileError, msg)
	SetCondition(conds, generation, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonReconcileError, msg)
	meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
}

// GatedReadiness is the verdict every dependent derives the same way: the
// first problem that blocks resolution, then the policy verdict on the
// computed lifetimes, then the problems that block serving them, else Ready
// with the summary.
func GatedReadiness(resolving []*Problem, computed bool, e lifetime.Enforcement, serving []*Problem, summary func() string) Readiness {
	for _, p := range resolving {
		if p != nil {
			return FromProblem(p)
		}
	}
	if !computed {
		return waitingFor(v1alpha1.ReasonProgressing, "Computing effective lifetimes.")
	}
	if e.Rejected() {
		return stalledBy(v1alpha1.ReasonPolicyViolation, violationsMessage(e))
	}
	for _, p := range serving {
		if p != nil {
			return FromProblem(p)
		}
	}
	return ReadyWith(summary())
}
