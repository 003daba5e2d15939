package issuer

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

func ringKey(id string, fill byte, superseded *time.Time) issuerconfig.SealingKey {
	return issuerconfig.SealingKey{ID: id, Key: bytes.Repeat([]byte{fill}, issuerconfig.StateKeySize), SupersededAt: superseded}
}

// openIdentity opens a sealed identity as personOf does.
func (c *config) openIdentity(sealed string) (*person, error) {
	var p person
	return &p, c.unsealJSON(purposeIdentity, sealed, &p)
}

// compileRing is the test tenant's configuration with ring as its sealing
// keys.
func compileRing(t *testing.T, ring ...issuerconfig.SealingKey) *config {
	t.Helper()
	doc := issuertest.Doc(t, "https://id.acme.test")
	doc.StateKey = bytes.Repeat([]byte{7}, issuerconfig.StateKeySize)
	doc.SealingKeys = ring
	if err := doc.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := compile(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSealingKeyRotation (security review N16): the sealing key rotates
// without logging anyone out — a pending sign-in sealed before the rotation
// completes after it, its CSRF token unchanged, and sealed identities in
// records keep opening — while a superseded key stops opening short-lived
// sealed values (what a leaked key would forge) minutes after the
// rotation, and a retired key opens nothing. Values sealed by the state key
// before rings existed are read as the ring's empty id.
func TestSealingKeyRotation(t *testing.T) {
	rotatedAt := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	before := compileRing(t, ringKey("k1", 1, nil))
	after := compileRing(t, ringKey("k2", 2, nil), ringKey("k1", 1, &rotatedAt))
	retired := compileRing(t, ringKey("k2", 2, nil))

	flow := &authFlow{ClientID: "web.shop", RedirectURI: webCB, ResponseType: "code"}
	pending, err := before.seal(flow, rotatedAt.Add(pendingLifetime))
	if err != nil || !strings.HasPrefix(pending, "k1.") {
		t.Fatalf("sealed %q, %v: want the current key's id in front", pending, err)
	}
	identity, err := before.sealIdentity(&person{Username: "alice", Email: "alice@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := after.unseal(pending, rotatedAt.Add(time.Minute)); err != nil {
		t.Errorf("a sign-in pending at the rotation: %v", err)
	}
	if before.csrfFor(pending) != after.csrfFor(pending) {
		t.Errorf("the CSRF token of a page rendered before the rotation changed")
	}
	forged, _ := before.seal(flow, rotatedAt.Add(time.Hour))
	if _, err := after.unseal(forged, rotatedAt.Add(pendingLifetime)); err == nil {
		t.Errorf("a request sealed with the superseded key opened %v after the rotation", pendingLifetime)
	}
	if p, err := after.openIdentity(identity); err != nil || p.Username != "alice" {
		t.Errorf("an identity sealed before the rotation: %+v %v", p, err)
	}
	if _, err := retired.openIdentity(identity); err == nil {
		t.Errorf("a retired key still opens identities")
	}
	fresh, _ := after.seal(flow, rotatedAt.Add(time.Hour))
	if !strings.HasPrefix(fresh, "k2.") {
		t.Errorf("sealed after the rotation: %q, want k2", fresh[:4])
	}
	if _, err := before.unseal(fresh, rotatedAt); err == nil {
		t.Errorf("a replica without the new key opened what it sealed")
	}
	if _, err := after.unseal("k9."+strings.TrimPrefix(fresh, "k2."), rotatedAt); err == nil {
		t.Errorf("an unknown key id opened")
	}

	// A pending key (on its way to every replica) opens, but the key
	// before it still seals.
	pendingKey := ringKey("k3", 3, nil)
	pendingKey.Pending = true
	next := compileRing(t, pendingKey, ringKey("k2", 2, nil), ringKey("k1", 1, &rotatedAt))
	if v, _ := next.seal(flow, rotatedAt.Add(time.Hour)); !strings.HasPrefix(v, "k2.") {
		t.Errorf("sealed behind a pending key: %q, want the current k2", v[:4])
	}
	promoted := compileRing(t, ringKey("k3", 3, nil), ringKey("k2", 2, &rotatedAt))
	fromK3, _ := promoted.seal(flow, rotatedAt.Add(time.Hour))
	if _, err := next.unseal(fromK3, rotatedAt); err != nil {
		t.Errorf("a replica with the key still pending cannot open what it seals once current: %v", err)
	}

	legacy := compileRing(t)
	old, _ := legacy.sealIdentity(&person{Username: "bob"})
	oldPending, _ := legacy.seal(flow, rotatedAt.Add(pendingLifetime))
	if strings.Contains(old, ".") {
		t.Fatalf("without a ring the state key seals unprefixed, as before: %q", old[:8])
	}
	upgradedPending := compileRing(t, func() issuerconfig.SealingKey { k := ringKey("k1", 1, nil); k.Pending = true; return k }(), issuerconfig.SealingKey{})
	if v, _ := upgradedPending.seal(flow, rotatedAt.Add(time.Hour)); strings.Contains(v, ".") {
		t.Errorf("right after an upgrade the state key still seals (older replicas open only that): %q", v[:4])
	}
	upgraded := compileRing(t, ringKey("k1", 1, nil), issuerconfig.SealingKey{ID: "", SupersededAt: &rotatedAt})
	if p, err := upgraded.openIdentity(old); err != nil || p.Username != "bob" {
		t.Errorf("an identity sealed before the ring, after the upgrade: %+v %v", p, err)
	}
	if _, err := upgraded.unseal(oldPending, rotatedAt.Add(time.Minute)); err != nil {
		t.Errorf("a sign-in pending at the upgrade: %v", err)
	}
}

// TestSigningInAcrossARotation: a user on the login page when the ring
// rotates signs in with the form they have.
func TestSigningInAcrossARotation(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) { d.SealingKeys = []issuerconfig.SealingKey{ringKey("k1", 1, nil)} })
	b := e.browser()
	_, page := b.get(e.oauth2Config("web.shop", webCB, "openid").AuthCodeURL("st"))
	now := e.clock.Now()
	doc := *e.doc
	doc.Generation++
	doc.SealingKeys = []issuerconfig.SealingKey{ringKey("k2", 2, nil), ringKey("k1", 1, &now)}
	if err := e.srv.Swap(&doc); err != nil {
		t.Fatal(err)
	}
	resp, body := b.login(page, "alice", "correct horse")
	if cb := callback(t, resp, body); cb.Get("code") == "" {
		t.Fatalf("sign-in across a rotation: %d %v", resp.StatusCode, cb)
	}
	if resp.StatusCode == http.StatusForbidden {
		t.Fatal("CSRF refused across a rotation")
	}
}
