package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// effectiveState is what status reports as in force, and since when.
type effectiveState[T any] struct {
	effective *T
	since     *metav1.Time
	// previousValidUntil is when tokens minted under the lifetimes in force
	// before since expire.
	previousValidUntil *metav1.Time
}

// nextEffective decides what status calls effective. While the issuer does
// not serve the new values yet (pending), the previous ones stay: they are
// what tokens are still minted with. Once served, the new values take over;
// if they differ, since moves to now and tokens of the previous regime are
// valid until now + their longest lifetime.
func nextEffective[T any](prev effectiveState[T], next *T, pending bool, now time.Time, longest func(*T) time.Duration) effectiveState[T] {
	if pending {
		return prev
	}
	t := metav1.NewTime(now)
	switch {
	case prev.effective == nil:
		return effectiveState[T]{effective: next, since: &t}
	case equality.Semantic.DeepEqual(prev.effective, next):
		return effectiveState[T]{effective: next, since: prev.since, previousValidUntil: prev.previousValidUntil}
	default:
		until := metav1.NewTime(now.Add(longest(prev.effective)))
		return effectiveState[T]{effective: next, since: &t, previousValidUntil: &until}
	}
}

// effectiveDigest identifies an effective lifetimes matrix (the status
// form), so the Tenant's rendering and an object's own reconcile can tell
// whether the issuer serves exactly what status is about to claim.
func effectiveDigest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
