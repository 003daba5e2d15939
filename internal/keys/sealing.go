package keys

import (
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// SealingPolicy says when a Tenant's sealing key rotates and how long a
// superseded one stays in the ring.
type SealingPolicy struct {
	// Period is how long a key seals before a new one takes over (the
	// Tenant's spec.keyRotationPeriod, like its signing keys).
	Period time.Duration
	// Retention is how long a superseded key still opens what it sealed:
	// the longest a record holding a sealed identity may live (the
	// session's absolute timeout, the longest refresh absolute lifetime).
	Retention time.Duration
	// Rotate asks for a new key now (the Tenant's rotation annotation
	// changed).
	Rotate bool
	// Legacy: the state key sealed before this ring existed; a new ring
	// keeps it (as the empty id) until it has been superseded Retention.
	Legacy bool
}

// SealingActivation is how long a new sealing key is pending — in every
// replica's configuration, opening but not sealing — before it seals:
// replicas follow their configuration Secret within seconds, so none is
// then handed a value it cannot open.
const SealingActivation = 2 * time.Minute

// PlanSealing steps ring at now: a first key when there is none (pending
// behind the state key when that sealed before, Legacy); a new pending key
// when the current one is Period old or a rotation is asked for; a pending
// key made current SealingActivation after it was added, superseding the
// one before; superseded keys dropped once Retention has passed. It is pure
// apart from gen; changed says the ring must be written.
func PlanSealing(ring []issuerconfig.SealingKey, now time.Time, p SealingPolicy, gen func() (issuerconfig.SealingKey, error)) (out []issuerconfig.SealingKey, changed bool, err error) {
	out = slices.Clone(ring)
	switch {
	case len(out) > 0 && out[0].Pending:
		if !now.Before(out[0].CreatedAt.Add(SealingActivation)) {
			out[0].Pending = false
			if len(out) > 1 {
				out[1].SupersededAt = &now
			}
			changed = true
		}
	case len(out) == 0 || p.Rotate || (p.Period > 0 && !now.Before(out[0].CreatedAt.Add(p.Period))):
		k, err := gen()
		if err != nil {
			return nil, false, err
		}
		k.CreatedAt = now
		switch {
		case len(out) == 0 && p.Legacy:
			// Replicas still seal with the state key: it stays current
			// until the new key has reached them.
			k.Pending = true
			out = append(out, issuerconfig.SealingKey{})
		case len(out) > 0:
			k.Pending = true
		}
		out = append([]issuerconfig.SealingKey{k}, out...)
		changed = true
	}
	kept := out[:1]
	for _, k := range out[1:] {
		if k.SupersededAt != nil && !now.Before(k.SupersededAt.Add(p.Retention)) {
			changed = true
			continue
		}
		kept = append(kept, k)
	}
	return kept, changed, nil
}

// NextSealingStep is when ring next changes without a request: the
// current key's rotation or a superseded key's retirement; zero if never.
func NextSealingStep(ring []issuerconfig.SealingKey, p SealingPolicy) time.Time {
	var next time.Time
	soonest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for i, k := range ring {
		switch {
		case i == 0 && k.Pending:
			soonest(k.CreatedAt.Add(SealingActivation))
		case i == 0 && p.Period > 0:
			soonest(k.CreatedAt.Add(p.Period))
		case k.SupersededAt != nil:
			soonest(k.SupersededAt.Add(p.Retention))
		}
	}
	return next
}

// GenerateSealingKey returns a new sealing key: 256 random bits under a
// random 8-character id.
func GenerateSealingKey() (issuerconfig.SealingKey, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	raw := make([]byte, 8+issuerconfig.StateKeySize)
	if _, err := rand.Read(raw); err != nil {
		return issuerconfig.SealingKey{}, fmt.Errorf("generating a sealing key: %w", err)
	}
	id := make([]byte, 8)
	for i, b := range raw[:8] {
		id[i] = alphabet[int(b)%len(alphabet)]
	}
	return issuerconfig.SealingKey{ID: string(id), Key: raw[8:]}, nil
}
