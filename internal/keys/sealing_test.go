package keys

import (
	"slices"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

func TestPlanSealing(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	n := 0
	gen := func() (issuerconfig.SealingKey, error) {
		n++
		return issuerconfig.SealingKey{ID: string(rune('a' + n)), Key: make([]byte, 32)}, nil
	}
	policy := SealingPolicy{Period: 30 * 24 * time.Hour, Retention: 7 * 24 * time.Hour}
	cur := func(id string, created time.Duration) issuerconfig.SealingKey {
		return issuerconfig.SealingKey{ID: id, CreatedAt: t0.Add(created)}
	}
	old := func(id string, superseded time.Duration) issuerconfig.SealingKey {
		return issuerconfig.SealingKey{ID: id, SupersededAt: at(superseded)}
	}
	pending := func(id string, created time.Duration) issuerconfig.SealingKey {
		return issuerconfig.SealingKey{ID: id, CreatedAt: t0.Add(created), Pending: true}
	}
	type want struct {
		ids     []string // "N": the generated key
		pending bool     // the first key is pending
		// superseded: the key after the first was superseded now
		superseded bool
	}
	for _, c := range []struct {
		name    string
		ring    []issuerconfig.SealingKey
		now     time.Duration
		rotate  bool
		legacy  bool
		want    want
		changed bool
	}{
		{name: "first key of a new tenant seals at once", want: want{ids: []string{"N"}}, changed: true},
		{name: "first key of a tenant that sealed with its state key waits behind it", legacy: true,
			want: want{ids: []string{"N", ""}, pending: true}, changed: true},
		{name: "young current key", ring: []issuerconfig.SealingKey{cur("k1", 0)}, now: 29 * 24 * time.Hour, want: want{ids: []string{"k1"}}},
		{name: "period reached: a pending key", ring: []issuerconfig.SealingKey{cur("k1", 0)}, now: 30 * 24 * time.Hour,
			want: want{ids: []string{"N", "k1"}, pending: true}, changed: true},
		{name: "rotation asked: a pending key", ring: []issuerconfig.SealingKey{cur("k1", 0)}, now: time.Hour, rotate: true,
			want: want{ids: []string{"N", "k1"}, pending: true}, changed: true},
		{name: "pending key not yet everywhere", ring: []issuerconfig.SealingKey{pending("k2", 0), cur("k1", -time.Hour)},
			now: SealingActivation - time.Second, rotate: true, want: want{ids: []string{"k2", "k1"}, pending: true}},
		{name: "pending key made current", ring: []issuerconfig.SealingKey{pending("k2", 0), cur("k1", -time.Hour)},
			now: SealingActivation, want: want{ids: []string{"k2", "k1"}, superseded: true}, changed: true},
		{name: "superseded key kept through retention", ring: []issuerconfig.SealingKey{cur("k2", 0), old("k1", 0)}, now: 7*24*time.Hour - time.Second,
			want: want{ids: []string{"k2", "k1"}}},
		{name: "superseded key retired", ring: []issuerconfig.SealingKey{cur("k2", 0), old("k1", 0), old("", -time.Hour)}, now: 7 * 24 * time.Hour,
			want: want{ids: []string{"k2"}}, changed: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := policy
			p.Rotate, p.Legacy = c.rotate, c.legacy
			now := t0.Add(c.now)
			got, changed, err := PlanSealing(c.ring, now, p, gen)
			if err != nil {
				t.Fatal(err)
			}
			ids := append([]string(nil), c.want.ids...)
			if ids[0] == "N" {
				ids[0] = got[0].ID
				if got[0].CreatedAt != now || got[0].SupersededAt != nil {
					t.Errorf("new key %+v: want created now, not superseded", got[0])
				}
			}
			if g := idsOf(got); !slices.Equal(g, ids) || changed != c.changed {
				t.Fatalf("ring %q changed %v, want %q changed %v", g, changed, ids, c.changed)
			}
			if got[0].Pending != c.want.pending {
				t.Errorf("first key pending %v, want %v", got[0].Pending, c.want.pending)
			}
			if c.want.superseded && (got[1].SupersededAt == nil || !got[1].SupersededAt.Equal(now)) {
				t.Errorf("the key before %+v: want superseded now", got[1])
			}
			if !c.want.superseded && len(got) > 1 && c.want.pending && got[1].SupersededAt != nil {
				t.Errorf("the current key %+v was superseded while the new one is pending", got[1])
			}
			if err := issuerconfig.ValidateSealingKeys(withKeyBytes(got)); err != nil {
				t.Errorf("planned ring does not validate: %v", err)
			}
		})
	}
	next := NextSealingStep([]issuerconfig.SealingKey{cur("k2", time.Hour), old("k1", 0)}, policy)
	if !next.Equal(t0.Add(7 * 24 * time.Hour)) {
		t.Errorf("next step %v, want the retirement of k1", next)
	}
}

func idsOf(ring []issuerconfig.SealingKey) (out []string) {
	for _, k := range ring {
		out = append(out, k.ID)
	}
	return out
}

// withKeyBytes gives the test ring's generated keys their 32 bytes (the
// planner copies whatever gen returns).
func withKeyBytes(ring []issuerconfig.SealingKey) []issuerconfig.SealingKey {
	out := slices.Clone(ring)
	for i := range out {
		if out[i].ID != "" {
			out[i].Key = make([]byte, issuerconfig.StateKeySize)
		}
	}
	return out
}
