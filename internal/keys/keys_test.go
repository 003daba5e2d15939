package keys

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// fakeGen makes cheap keys with predictable IDs; real generation is tested
// separately.
func fakeGen() Generator {
	n := 0
	return func(alg v1alpha1.SigningAlgorithm, now time.Time) (Key, error) {
		n++
		return Key{Key: issuerconfig.Key{ID: fmt.Sprintf("%s-%d", alg, n), Algorithm: alg, Role: issuerconfig.KeyNext, PrivateKeyPEM: "x", PublicKeyPEM: "x-pub"}, CreatedAt: now}, nil
	}
}

func roles(keys []Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID+":"+string(k.Role))
	}
	return out
}

func TestPlanTimeline(t *testing.T) {
	p := Policy{Period: 240 * time.Hour, Retention: 10 * time.Hour} // publish ahead: 24h
	gen := fakeGen()
	rs := []v1alpha1.SigningAlgorithm{v1alpha1.RS256}
	steps := []struct {
		at          time.Duration
		algs        []v1alpha1.SigningAlgorithm
		wantChanged bool
		want        []string
	}{
		{0, rs, true, []string{"RS256-1:active"}},
		{100 * time.Hour, rs, false, []string{"RS256-1:active"}},
		{215 * time.Hour, rs, false, []string{"RS256-1:active"}},
		{216 * time.Hour, rs, true, []string{"RS256-1:active", "RS256-2:next"}},
		{239 * time.Hour, rs, false, []string{"RS256-1:active", "RS256-2:next"}},
		{240 * time.Hour, rs, true, []string{"RS256-1:retiring", "RS256-2:active"}},
		{249 * time.Hour, rs, false, []string{"RS256-1:retiring", "RS256-2:active"}},
		{250 * time.Hour, rs, true, []string{"RS256-2:active"}},
		// An API starts using ES256: it gets a key that signs at once.
		{251 * time.Hour, []v1alpha1.SigningAlgorithm{v1alpha1.RS256, v1alpha1.ES256}, true, []string{"RS256-2:active", "ES256-3:active"}},
		// ES256 no longer used: its key retires, then goes.
		{260 * time.Hour, rs, true, []string{"RS256-2:active", "ES256-3:retiring"}},
		{270 * time.Hour, rs, true, []string{"RS256-2:active"}},
	}
	var keys []Key
	for _, s := range steps {
		var changed bool
		var err error
		keys, changed, err = Plan(keys, s.algs, t0.Add(s.at), p, gen)
		if err != nil {
			t.Fatal(err)
		}
		if got := roles(keys); !slices.Equal(got, s.want) || changed != s.wantChanged {
			t.Errorf("at +%v: %v (changed %v), want %v (changed %v)", s.at, got, changed, s.want, s.wantChanged)
		}
	}
}

// TestPlanInvariants steps through 120 days hour by hour with a rotation
// period of 3 days and checks the properties verifiers rely on.
func TestPlanInvariants(t *testing.T) {
	p := Policy{Period: 72 * time.Hour, Retention: 30 * time.Hour}
	gen := fakeGen()
	algs := []v1alpha1.SigningAlgorithm{v1alpha1.RS256, v1alpha1.ES256}
	var keys []Key
	firstSeen := map[string]time.Time{}
	retiredSince := map[string]time.Time{}
	rotations := 0
	for h := 0; h < 120*24; h++ {
		now := t0.Add(time.Duration(h) * time.Hour)
		before := slices.Clone(keys)
		var err error
		keys, _, err = Plan(keys, algs, now, p, gen)
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range algs {
			n := 0
			for _, k := range keys {
				if k.Algorithm == alg && k.Role == issuerconfig.KeyActive {
					n++
					if h > 0 && now.Sub(firstSeen[k.ID]) < p.PublishAhead() && firstSeen[k.ID] != t0 {
						t.Fatalf("at +%dh key %s signs %v after being published", h, k.ID, now.Sub(firstSeen[k.ID]))
					}
				}
			}
			if n != 1 {
				t.Fatalf("at +%dh %d active %s keys", h, n, alg)
			}
		}
		for _, k := range keys {
			if _, ok := firstSeen[k.ID]; !ok {
				firstSeen[k.ID] = now
			}
			if retiring := k.Role == issuerconfig.KeyRetiring; retiring != (k.PrivateKeyPEM == "") || k.PublicKeyPEM == "" {
				t.Fatalf("at +%dh %s key %s: private half kept %v, public %q", h, k.Role, k.ID, k.PrivateKeyPEM != "", k.PublicKeyPEM)
			}
			if k.Role == issuerconfig.KeyRetiring {
				if _, ok := retiredSince[k.ID]; !ok {
					retiredSince[k.ID] = now
					rotations++
				}
			}
		}
		for _, old := range before {
			if !slices.ContainsFunc(keys, func(k Key) bool { return k.ID == old.ID }) {
				if since, ok := retiredSince[old.ID]; !ok || now.Sub(since) < p.Retention {
					t.Fatalf("at +%dh key %s removed before its tokens expired", h, old.ID)
				}
			}
		}
		if len(keys) > 2*len(algs) {
			t.Fatalf("at +%dh %d keys published: %v", h, len(keys), roles(keys))
		}
	}
	if rotations < 2*38 {
		t.Errorf("%d rotations in 120 days with a 3-day period for two algorithms", rotations)
	}
}

func TestGenerate(t *testing.T) {
	for _, alg := range []v1alpha1.SigningAlgorithm{v1alpha1.RS256, v1alpha1.ES256} {
		a, err := Generate(alg, t0)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(alg, t0)
		block, _ := pem.Decode([]byte(a.PrivateKeyPEM))
		if block == nil || block.Type != "PRIVATE KEY" {
			t.Fatalf("%s: not a PKCS#8 PEM", alg)
		}
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
		if pub, _ := pem.Decode([]byte(a.PublicKeyPEM)); pub == nil || pub.Type != "PUBLIC KEY" {
			t.Errorf("%s: no PKIX public key kept alongside", alg)
		}
		if a.ID == b.ID || len(a.ID) != 16 || a.Role != issuerconfig.KeyNext || a.Algorithm != alg {
			t.Errorf("%s: ids %q %q role %s", alg, a.ID, b.ID, a.Role)
		}
	}
	if _, err := Generate("HS256", t0); err == nil {
		t.Error("HS256 must be refused")
	}
}

func TestNextStepPredictsPlan(t *testing.T) {
	p := Policy{Period: 240 * time.Hour, Retention: 10 * time.Hour}
	gen := fakeGen()
	algs := []v1alpha1.SigningAlgorithm{v1alpha1.RS256}
	keys, _, _ := Plan(nil, algs, t0, p, gen)
	now := t0
	for step := 0; step < 6; step++ {
		next := NextStep(keys, p)
		if next.IsZero() || !next.After(now) {
			t.Fatalf("step %d: next step %v not after %v (%v)", step, next, now, roles(keys))
		}
		// Nothing happens just before the predicted moment...
		if _, changed, _ := Plan(keys, algs, next.Add(-time.Second), p, gen); changed {
			t.Fatalf("step %d: Plan changed keys before NextStep %v", step, next)
		}
		// ...and something does at it.
		var changed bool
		keys, changed, _ = Plan(keys, algs, next, p, gen)
		if !changed {
			t.Fatalf("step %d: Plan did nothing at NextStep %v: %v", step, next, roles(keys))
		}
		now = next
	}
}

func TestNextStepWaitsForALatePublishedSuccessor(t *testing.T) {
	p := Policy{Period: 240 * time.Hour, Retention: time.Hour}
	gen := fakeGen()
	algs := []v1alpha1.SigningAlgorithm{v1alpha1.RS256}
	keys, _, _ := Plan(nil, algs, t0, p, gen)
	// The operator was down: the successor is published only at +239h.
	keys, _, _ = Plan(keys, algs, t0.Add(239*time.Hour), p, gen)
	want := t0.Add(239*time.Hour + p.PublishAhead())
	if got := NextStep(keys, p); !got.Equal(want) {
		t.Errorf("NextStep = %v, want %v (successor published for a full day first)", got, want)
	}
}

// TestShortenedLifetimeKeepsOldKeys: tokens signed with 30-day lifetimes
// before a change to 1h must keep verifying for their 30 days after the key
// retires (review finding: retention was recomputed from current lifetimes).
func TestShortenedLifetimeKeepsOldKeys(t *testing.T) {
	day := 24 * time.Hour
	gen := fakeGen()
	algs := []v1alpha1.SigningAlgorithm{v1alpha1.RS256}
	long := Policy{Period: 90 * day, Retention: 30 * day}
	short := Policy{Period: 90 * day, Retention: time.Hour}
	keys, _, _ := Plan(nil, algs, t0, long, gen)
	first := keys[0].ID
	keys, _, _ = Plan(keys, algs, t0.Add(79*day), long, gen)
	for d := 80; d <= 120; d++ {
		keys, _, _ = Plan(keys, algs, t0.Add(time.Duration(d)*day), short, gen)
		present := slices.ContainsFunc(keys, func(k Key) bool { return k.ID == first })
		// Tokens signed on day 79 with 30 days live until day 109; the key
		// retires on day 90.
		if d < 109+1 && !present {
			t.Fatalf("day %d: key dropped while tokens it signed with a 30-day lifetime are valid", d)
		}
		if d >= 121 && present {
			t.Fatalf("day %d: key kept forever", d)
		}
	}
}

// TestRetiredKeysLosePrivateHalf: once a key stops signing, its private
// half leaves the stored keys (and so the issuer configuration) at once,
// also for a key an older operator retired with it; the public half that
// verifiers need stays, and is the key's own.
func TestRetiredKeysLosePrivateHalf(t *testing.T) {
	p := Policy{Period: 240 * time.Hour, Retention: 10 * time.Hour}
	algs := []v1alpha1.SigningAlgorithm{v1alpha1.ES256}
	keys, _, err := Plan(nil, algs, t0, p, Generate)
	if err != nil {
		t.Fatal(err)
	}
	first := keys[0]
	keys, _, _ = Plan(keys, algs, t0.Add(216*time.Hour), p, Generate)
	keys, changed, err := Plan(keys, algs, t0.Add(240*time.Hour), p, Generate)
	if err != nil || !changed {
		t.Fatalf("rotation: changed %v, %v", changed, err)
	}
	i := slices.IndexFunc(keys, func(k Key) bool { return k.ID == first.ID })
	if i < 0 || keys[i].Role != issuerconfig.KeyRetiring || keys[i].PrivateKeyPEM != "" || keys[i].PublicKeyPEM != first.PublicKeyPEM {
		t.Fatalf("retired key: %+v", keys[i].Key)
	}

	// An older operator retired a key and kept its private half, without a
	// public PEM: the next plan derives the public half and drops the rest.
	legacy := first
	legacy.Role, legacy.RetiredAt, legacy.PublicKeyPEM = issuerconfig.KeyRetiring, t0.Add(240*time.Hour), ""
	keys[i] = legacy
	keys, changed, err = Plan(keys, algs, t0.Add(241*time.Hour), p, Generate)
	if err != nil || !changed {
		t.Fatalf("legacy key: changed %v, %v", changed, err)
	}
	i = slices.IndexFunc(keys, func(k Key) bool { return k.ID == first.ID })
	if keys[i].PrivateKeyPEM != "" || keys[i].PublicKeyPEM != first.PublicKeyPEM {
		t.Fatalf("legacy retired key kept its private half or got a wrong public one: %+v", keys[i].Key)
	}
	block, _ := pem.Decode([]byte(keys[i].PublicKeyPEM))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatal("public half is not a PKIX PEM")
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
}
