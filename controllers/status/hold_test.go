package status

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestPendingHold: which status writes wait, and for how long. A user
// sees the difference as a status that goes straight to Ready instead of
// flashing "issuer pending", never as a problem kept hidden.
func TestPendingHold(t *testing.T) {
	ready := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: status, Reason: reason}}
	}
	pending := ready(metav1.ConditionFalse, v1alpha1.ReasonIssuerPending)
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	key := types.NamespacedName{Namespace: "shop", Name: "web"}
	for _, tc := range []struct {
		name               string
		generation, status int64 // the object's and its status's generation
		previous, next     []metav1.Condition
		want               time.Duration
	}{
		{"new object, only pending", 1, -1, nil, pending, pendingStatusDelay},
		{"new generation of a Ready object", 2, 1, ready(metav1.ConditionTrue, v1alpha1.ReasonReady), pending, pendingStatusDelay},
		{"a Ready object whose API changed", 2, 2, ready(metav1.ConditionTrue, v1alpha1.ReasonReady), pending, pendingStatusDelay},
		{"pending after a problem is shown at once", 2, 2, ready(metav1.ConditionFalse, v1alpha1.ReasonAPINotFound), pending, 0},
		{"a problem is never held", 1, -1, nil, ready(metav1.ConditionFalse, v1alpha1.ReasonAPINotFound), 0},
		{"Ready is never held", 1, -1, nil, ready(metav1.ConditionTrue, v1alpha1.ReasonReady), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h PendingHold
			if got := h.Wait(key, tc.generation, tc.status, tc.previous, tc.next, t0); got != tc.want {
				t.Fatalf("wait = %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("held at most pendingStatusDelay, counted from the first pass", func(t *testing.T) {
		var h PendingHold
		h.Wait(key, 1, -1, nil, pending, t0)
		if got := h.Wait(key, 1, -1, nil, pending, t0.Add(time.Second)); got != pendingStatusDelay-time.Second {
			t.Fatalf("one second later: wait = %v, want %v", got, pendingStatusDelay-time.Second)
		}
		if got := h.Wait(key, 1, -1, nil, pending, t0.Add(pendingStatusDelay)); got != 0 {
			t.Fatalf("after the delay: wait = %v, want 0 (write pending now)", got)
		}
	})
	t.Run("a newer generation starts its own delay", func(t *testing.T) {
		var h PendingHold
		h.Wait(key, 1, -1, nil, pending, t0)
		if got := h.Wait(key, 2, -1, nil, pending, t0.Add(pendingStatusDelay)); got != pendingStatusDelay {
			t.Fatalf("generation 2: wait = %v, want %v", got, pendingStatusDelay)
		}
	})
}
