package status

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EffectiveState is what status reports as in force, and since when.
type EffectiveState[T any] struct {
	Effective *T
	Since     *metav1.Time
	// PreviousValidUntil is when tokens minted under the lifetimes in force
	// before since expire.
	PreviousValidUntil *metav1.Time
}

// NextEffective decides what status calls effective. While the issuer does
// not serve the new values yet (pending), the previous ones stay: they are
// what tokens are still minted with. Once served, the new values take over;
// if they differ, since moves to now and tokens of the previous regime are
// valid until now + their longest lifetime.
func NextEffective[T any](prev EffectiveState[T], next *T, pending bool, now time.Time, longest func(*T) time.Duration) EffectiveState[T] {
	if pending {
		return prev
	}
	t := metav1.NewTime(now)
	switch {
	case prev.Effective == nil:
		return EffectiveState[T]{Effective: next, Since: &t}
	case equality.Semantic.DeepEqual(prev.Effective, next):
		return EffectiveState[T]{Effective: next, Since: prev.Since, PreviousValidUntil: prev.PreviousValidUntil}
	default:
		until := metav1.NewTime(now.Add(longest(prev.Effective)))
		return EffectiveState[T]{Effective: next, Since: &t, PreviousValidUntil: &until}
	}
}

// EffectiveDigest identifies an effective lifetimes matrix (the status
// form), so the Tenant's rendering and an object's own reconcile can tell
// whether the issuer serves exactly what status is about to claim.
func EffectiveDigest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
