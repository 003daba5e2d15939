package keys

import (
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
	ids := func(ring []issuerconfig.SealingKey) (out []string) {
		for _, k := range ring {
			out = append(out, k.ID)
		}
		return out
	}
	for _, c := range []struct {
		name    string
		ring    []issuerconfig.SealingKey
		now     time.Duration
		rotate  bool
		legacy  bool
		want    []string
		changed bool
	}{
		{name: "first key of a new tenant", now: 0, want: []string{"N"}, changed: true},
		{name: "first key of a tenant that sealed with its state key", now: 0, legacy: true, want: []string{"N", ""}, changed: true},
		{name: "young current key", ring: []issuerconfig.SealingKey{cur("k1", 0)}, now: 29 * 24 * time.Hour, want: []string{"k1"}},
		{name: "period reached", ring: []issuerconfig.SealingKey{cur("k1", 0)}, now: 30 * 24 * time.Hour, want: []string{"N", "k1"}, changed: true},
		{name: "rotation asked", ring: []issuerconfig.SealingKey{cur("k1", 0)}, now: time.Hour, rotate: true, want: []string{"N", "k1"}, changed: true},
		{name: "superseded key kept through retention", ring: []issuerconfig.SealingKey{cur("k2", 0), old("k1", 0)}, now: 7*24*time.Hour - time.Second, want: []string{"k2", "k1"}},
		{name: "superseded key retired", ring: []issuerconfig.SealingKey{cur("k2", 0), old("k1", 0), old("", -time.Hour)}, now: 7 * 24 * time.Hour, want: []string{"k2"}, changed: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := policy
			p.Rotate, p.Legacy = c.rotate, c.legacy
			got, changed, err := PlanSealing(c.ring, t0.Add(c.now), p, gen)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string(nil), c.want...)
			if want[0] == "N" {
				want[0] = got[0].ID // generated
				if got[0].CreatedAt != t0.Add(c.now) || got[0].SupersededAt != nil {
					t.Errorf("new key %+v: want created now, current", got[0])
				}
				if len(got) > 1 && (got[1].SupersededAt == nil || !got[1].SupersededAt.Equal(t0.Add(c.now))) {
					t.Errorf("previous key %+v: want superseded now", got[1])
				}
			}
			if g := ids(got); len(g) != len(want) || changed != c.changed {
				t.Fatalf("ring %q changed %v, want %q changed %v", g, changed, want, c.changed)
			}
			for i := range want {
				if got[i].ID != want[i] {
					t.Errorf("ring %q, want %q", ids(got), want)
				}
			}
		})
	}
	next := NextSealingStep([]issuerconfig.SealingKey{cur("k2", time.Hour), old("k1", 0)}, policy)
	if !next.Equal(t0.Add(7 * 24 * time.Hour)) {
		t.Errorf("next step %v, want the retirement of k1", next)
	}
}
