package status

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// pendingStatusDelay is how long a new generation of an Application or API
// (or a Ready one whose Tenant or APIs changed) waits before its status
// says "the issuer will serve this shortly".
// Usually the issuer serves it sooner, and the status goes straight to
// Ready in one write instead of two; importing 5,000 Applications at once,
// that is 5,000 fewer writes to the API server. Meanwhile status still
// describes the previous generation (observedGeneration says which), so
// kstatus, Argo CD and Flux already report the object as in progress.
const pendingStatusDelay = 3 * time.Second

// PendingHold remembers since when each object's current generation has
// been waiting only for the issuer, without that being written.
type PendingHold struct {
	mu    sync.Mutex
	since map[types.NamespacedName]heldGeneration
}

type heldGeneration struct {
	generation int64
	since      time.Time
}

// Wait says how long to hold back a status whose conditions are conds for
// generation of the object key, whose status so far (previous) describes
// generation observed: zero to write now. A status whose sole news is
// IssuerPending waits when the status so far describes an older
// generation, or says Ready (a change of an API or of the Tenant is
// pending for this Application): in both cases it is about to say Ready.
// After a problem, pending is written at once: the problem is over.
func (h *PendingHold) Wait(key types.NamespacedName, generation, observed int64, previous, conds []metav1.Condition, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	onlyPending := ready != nil && ready.Status == metav1.ConditionFalse && ready.Reason == v1alpha1.ReasonIssuerPending
	was := meta.FindStatusCondition(previous, v1alpha1.ConditionReady)
	aboutToBeReady := observed != generation || was == nil || was.Status == metav1.ConditionTrue
	if !onlyPending || !aboutToBeReady {
		delete(h.since, key)
		return 0
	}
	held, ok := h.since[key]
	if !ok || held.generation != generation {
		held = heldGeneration{generation: generation, since: now}
		if h.since == nil {
			h.since = map[types.NamespacedName]heldGeneration{}
		}
		h.since[key] = held
	}
	if left := pendingStatusDelay - now.Sub(held.since); left > 0 {
		return left
	}
	delete(h.since, key)
	return 0
}

// Forget drops what is held for an object that is gone.
func (h *PendingHold) Forget(key types.NamespacedName) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.since, key)
}

// FinishHeld ends a reconcile whose status write may have been held back
// (PendingHold): a held status asks to look again after held; otherwise a
// stalled object, by conditions, is a terminal error.
func FinishHeld(held time.Duration, err error, conditions []metav1.Condition) (ctrl.Result, error) {
	if held > 0 {
		return ctrl.Result{RequeueAfter: held}, err
	}
	if err == nil {
		err = TerminalIfStalled(conditions)
	}
	return ctrl.Result{}, err
}
