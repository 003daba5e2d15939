package status

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

func FromProblem(p *Problem) Readiness {
	if p.Stalls {
		return stalledBy(p.Reason, p.Message)
	}
	return waitingFor(p.Reason, p.Message)
}

// SetClampedCondition reports LifetimesClamped from the policy enforcement;
// nil e (nothing computed yet) removes it rather than leave a stale verdict.
func SetClampedCondition(conds *[]metav1.Condition, gen int64, e *lifetime.Enforcement) {
	if e == nil {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionLifetimesClamped)
		return
	}
	if e.Rejected() {
		BoolCondition(conds, gen, v1alpha1.ConditionLifetimesClamped, false, v1alpha1.ReasonPolicyViolation,
			"Not clamped: the Tenant's policy mode is Reject. "+violationsMessage(*e))
		return
	}
	if len(e.Clamps) == 0 {
		BoolCondition(conds, gen, v1alpha1.ConditionLifetimesClamped, false, v1alpha1.ReasonWithinPolicy, "Every requested lifetime is within the Tenant's policy.")
		return
	}
	msgs := make([]string, 0, len(e.Clamps))
	for _, c := range e.Clamps {
		msgs = append(msgs, c.Message())
	}
	BoolCondition(conds, gen, v1alpha1.ConditionLifetimesClamped, true, v1alpha1.ReasonClamped, strings.Join(msgs, "; ")+".")
}

func violationsMessage(e lifetime.Enforcement) string {
	msgs := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		msgs = append(msgs, v.Message())
	}
	return "Refused by Tenant policy, not served by the issuer: " + strings.Join(msgs, "; ") + "."
}

// Problem is a reason and message for a condition that is not True.
type Problem struct {
	Reason  string
	Message string
	// Stalls says whether only a spec change can fix it (see readiness).
	Stalls bool
	// ServedWithout says the object is still served, without the part the
	// problem is about (an Application without the APIs whose owners did
	// not consent).
	ServedWithout bool
}
