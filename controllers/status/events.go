package status

import (
	"errors"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// recordReadyTransition records Events for problems and for their end, not
// for progress: a Warning when a problem makes Ready false (once per
// reason, not on every pass), and a Normal Ready when it is true again.
// Waiting for something that needs nobody (the issuer about to serve a
// change, a replica starting) records nothing, and nor does an object that
// becomes Ready without having had a problem: importing 5,000 Applications
// would otherwise write thousands of Events nobody needs to read, and a
// Tenant one per configuration generation.
func recordReadyTransition(rec events.EventRecorder, obj client.Object, before, after []metav1.Condition) {
	if rec == nil {
		return
	}
	now := meta.FindStatusCondition(after, v1alpha1.ConditionReady)
	if now == nil || waiting(now) {
		return
	}
	uid := obj.GetUID()
	if now.Status == metav1.ConditionTrue {
		// The problem may have ended through a waiting state (fixed, then
		// the issuer serving the fix), so whether one was reported is
		// remembered rather than read from before.
		if _, had := problemReported.LoadAndDelete(uid); had {
			rec.Eventf(obj, nil, corev1.EventTypeNormal, now.Reason, "Reconcile", "%s", Truncate(now.Message, 1024))
		}
		return
	}
	if was := meta.FindStatusCondition(before, v1alpha1.ConditionReady); was != nil && was.Status == now.Status && was.Reason == now.Reason {
		return
	}
	problemReported.Store(uid, struct{}{})
	rec.Eventf(obj, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", Truncate(now.Message, 1024))
}

// problemReported holds the UIDs of objects with a Warning recorded and no
// Ready since. After a restart of the operator the recovery of a problem
// reported before it goes unrecorded (status still says Ready).
var problemReported sync.Map

// waiting says whether a Ready condition only reports work in progress
// that needs nobody: the issuer about to serve a change, a step under way,
// replicas starting or loading a new configuration. Every create and every
// change passes through one of these. A state that lasts (a replica that
// never starts) shows in status and in the workload's own Events.
func waiting(ready *metav1.Condition) bool {
	if ready.Status == metav1.ConditionTrue {
		return false
	}
	switch ready.Reason {
	case v1alpha1.ReasonIssuerPending, v1alpha1.ReasonProgressing, v1alpha1.ReasonGenerationPending, v1alpha1.ReasonNoReplicaReporting:
		return true
	}
	return false
}

// errStalled marks a reconcile that only a spec change can unblock.
var errStalled = errors.New("stalled: waiting for a spec change")

// TerminalIfStalled turns Stalled=True into a terminal error, so
// controller-runtime does not retry it with backoff; the next relevant watch
// event (the fix, or a change to a dependency) triggers the next reconcile.
func TerminalIfStalled(conds []metav1.Condition) error {
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		return reconcile.TerminalError(errors.Join(errStalled, errors.New(c.Message)))
	}
	return nil
}
