package controllers

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// recordReadyTransition emits one Event when Ready changes status or reason,
// not on every pass, so `kubectl describe` shows the history without noise:
// a Warning when a problem makes it false, Normal when it is true again.
func recordReadyTransition(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	if rec == nil {
		return
	}
	now := meta.FindStatusCondition(after, v1alpha1.ConditionReady)
	if now == nil {
		return
	}
	was := meta.FindStatusCondition(before, v1alpha1.ConditionReady)
	if was != nil && was.Status == now.Status && was.Reason == now.Reason {
		return
	}
	// Events tell of problems and of their end. Waiting for the issuer is
	// neither, and nor is the first status of a new object saying Ready:
	// importing 5,000 Applications would otherwise write 5,000 Events
	// nobody needs to read (status says Ready already).
	if waiting(now) || now.Status == metav1.ConditionTrue && was == nil {
		return
	}
	kind := corev1.EventTypeNormal
	if now.Status != metav1.ConditionTrue {
		kind = corev1.EventTypeWarning
	}
	rec.Eventf(obj, nil, kind, now.Reason, "Reconcile", "%s", truncate(now.Message, 1024))
}

// waiting says whether a Ready condition only reports work in progress
// that needs nobody: the issuer about to serve a change, or a step under
// way. Every create and every change passes through it; an Event for each
// would be a Warning nobody should act on, and at 5,000 Applications
// thousands of extra writes to the API server.
func waiting(ready *metav1.Condition) bool {
	return ready.Status != metav1.ConditionTrue &&
		(ready.Reason == v1alpha1.ReasonIssuerPending || ready.Reason == v1alpha1.ReasonProgressing)
}

// errStalled marks a reconcile that only a spec change can unblock.
var errStalled = errors.New("stalled: waiting for a spec change")

// terminalIfStalled turns Stalled=True into a terminal error, so
// controller-runtime does not retry it with backoff; the next relevant watch
// event (the fix, or a change to a dependency) triggers the next reconcile.
func terminalIfStalled(conds []metav1.Condition) error {
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		return reconcile.TerminalError(errors.Join(errStalled, errors.New(c.Message)))
	}
	return nil
}
