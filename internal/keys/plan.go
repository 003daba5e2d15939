package keys

import (
	"fmt"
	"slices"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Policy sets the pace of rotation.
type Policy struct {
	// Period is how long a key signs before its successor takes over
	// (Tenant spec.keyRotationPeriod).
	Period time.Duration
	// Retention is how long a retired key stays published: the longest
	// lifetime of any token it may have signed, so those tokens keep
	// verifying until they expire.
	Retention time.Duration
}

// PublishAhead is how long a new key is in the JWKS before it signs, so
// clients that cache the JWKS have fetched it: a tenth of the period, at most
// a day.
func (p Policy) PublishAhead() time.Duration {
	return min(p.Period/10, 24*time.Hour)
}

// Generator makes a new key; Generate in production, a cheap fake in tests.
type Generator func(v1alpha1.SigningAlgorithm, time.Time) (Key, error)

// Plan returns the key set at now: one active key for each algorithm in
// algs, successors published ahead, retired keys kept for Retention. It
// returns the input unchanged (changed=false) when nothing is due, so a
// reconcile writes the keys Secret only when a step happens.
func Plan(current []Key, algs []v1alpha1.SigningAlgorithm, now time.Time, p Policy, gen Generator) (keys []Key, changed bool, err error) {
	keys = slices.Clone(current)
	mark := func() { changed = true }

	for _, alg := range algs {
		active := find(keys, alg, issuerconfig.KeyActive)
		next := find(keys, alg, issuerconfig.KeyNext)
		switch {
		case active < 0 && next >= 0:
			// A new algorithm's first key, or a lost active key: sign now.
			keys[next].Role, keys[next].ActivatedAt = issuerconfig.KeyActive, now
			mark()
		case active < 0:
			k, err := gen(alg, now)
			if err != nil {
				return nil, false, fmt.Errorf("generating the first %s key: %w", alg, err)
			}
			k.Role, k.ActivatedAt = issuerconfig.KeyActive, now
			keys = append(keys, k)
			mark()
		default:
			age := now.Sub(keys[active].ActivatedAt)
			if next < 0 && age >= p.Period-p.PublishAhead() {
				k, err := gen(alg, now)
				if err != nil {
					return nil, false, fmt.Errorf("generating the next %s key: %w", alg, err)
				}
				keys = append(keys, k)
				mark()
			} else if next >= 0 && age >= p.Period && now.Sub(keys[next].CreatedAt) >= p.PublishAhead() {
				keys[active].Role, keys[active].RetiredAt = issuerconfig.KeyRetiring, now
				keys[next].Role, keys[next].ActivatedAt = issuerconfig.KeyActive, now
				mark()
			}
		}
	}

	// An active key may sign tokens with the longest lifetime in force now.
	for i := range keys {
		if keys[i].Role == issuerconfig.KeyActive && p.Retention > keys[i].MaxRetention {
			keys[i].MaxRetention = p.Retention
			mark()
		}
	}

	// Keys of algorithms no longer in use stop signing but keep verifying.
	for i := range keys {
		if !slices.Contains(algs, keys[i].Algorithm) && keys[i].Role != issuerconfig.KeyRetiring {
			keys[i].Role, keys[i].RetiredAt = issuerconfig.KeyRetiring, now
			mark()
		}
	}
	kept := keys[:0]
	for _, k := range keys {
		if k.Role == issuerconfig.KeyRetiring && !now.Before(retireDeadline(k, p)) {
			mark()
			continue
		}
		// A retired key never signs again: its private half goes at once
		// (also from keys retired by an operator that kept it), the
		// public half stays for verifiers until the deadline above.
		if k.Role == issuerconfig.KeyRetiring && k.PrivateKeyPEM != "" {
			pub, err := publicOnly(k)
			if err != nil {
				return nil, false, err
			}
			k = pub
			mark()
		}
		kept = append(kept, k)
	}
	return kept, changed, nil
}

func find(keys []Key, alg v1alpha1.SigningAlgorithm, role issuerconfig.KeyRole) int {
	return slices.IndexFunc(keys, func(k Key) bool { return k.Algorithm == alg && k.Role == role })
}

// ConfigKeys strips the planning times for the issuer configuration.
func ConfigKeys(keys []Key) []issuerconfig.Key {
	out := make([]issuerconfig.Key, len(keys))
	for i, k := range keys {
		out[i] = k.Key
	}
	return out
}

// NextStep is when Plan will next change keys: a successor to publish, a
// promotion, or a retired key to drop. Zero when nothing is scheduled. The
// operator requeues for it, so rotation happens on time without any event.
func NextStep(keys []Key, p Policy) time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, k := range keys {
		switch k.Role {
		case issuerconfig.KeyActive:
			if n := find(keys, k.Algorithm, issuerconfig.KeyNext); n < 0 {
				earliest(k.ActivatedAt.Add(p.Period - p.PublishAhead()))
			} else {
				// Promotion needs both: the period over, the successor
				// published long enough.
				earliest(maxTime(k.ActivatedAt.Add(p.Period), keys[n].CreatedAt.Add(p.PublishAhead())))
			}
		case issuerconfig.KeyRetiring:
			earliest(retireDeadline(k, p))
		}
	}
	return next
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// retireDeadline is when a retired key leaves the JWKS: once every token it
// may have signed has expired (the longest lifetime seen while it signed, or
// the current one if longer).
func retireDeadline(k Key, p Policy) time.Time {
	return k.RetiredAt.Add(max(k.MaxRetention, p.Retention))
}
