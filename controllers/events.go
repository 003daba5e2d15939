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
// not on every pass, so `kubectl describe` shows the history without noise.
func recordReadyTransition(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	if rec == nil {
		return
	}
	now := meta.FindStatusCondition(after, v1alpha1.ConditionReady)
	if now == nil {
		return
	}
	if was := meta.FindStatusCondition(before, v1alpha1.ConditionReady); was != nil && was.Status == now.Status && was.Reason == now.Reason {
		return
	}
	kind := corev1.EventTypeNormal
	if now.Status != metav1.ConditionTrue {
		kind = corev1.EventTypeWarning
	}
	rec.Eventf(obj, nil, kind, now.Reason, "Reconcile", "%s", truncate(now.Message, 1024))
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
