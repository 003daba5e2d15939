package issuer

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestClientSecretOverlap (security review N16): during a rotation the
// replaced client secret keeps working beside the new one until its
// ValidUntil, and not a second longer; the next one works before any
// application is handed it.
func TestClientSecretOverlap(t *testing.T) {
	const old = "b2xkLXNlY3JldC1vZi1tMm0uc2hvcC0tLS0tLS0tLS0tLS0"
	const next = "bmV4dC1zZWNyZXQtb2YtbTJtLnNob3AtLS0tLS0tLS0tLS0"
	var until time.Time
	e := newEnv(t, func(d *issuerconfig.Document) {
		until = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) // the clock starts at 9:00
		sum := sha256.Sum256([]byte(old))
		for i := range d.Applications {
			if d.Applications[i].ClientID == "m2m.shop" {
				d.Applications[i].PreviousSecret = &issuerconfig.PreviousSecret{SHA256: hex.EncodeToString(sum[:]), ValidUntil: until}
				n := sha256.Sum256([]byte(next))
				d.Applications[i].NextSecretSHA256 = hex.EncodeToString(n[:])
			}
		}
	})
	grant := func(secret string) int {
		status, _ := e.postForm(PathToken, url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}, "m2m.shop", secret)
		return status
	}
	current := issuertest.Secrets["m2m.shop"]
	if s := grant(old); s != http.StatusOK {
		t.Errorf("the replaced secret during its overlap: %d, want 200", s)
	}
	if s := grant(current); s != http.StatusOK {
		t.Errorf("the new secret during the overlap: %d, want 200", s)
	}
	if s := grant(next); s != http.StatusOK {
		t.Errorf("the next secret, before applications are handed it: %d, want 200", s)
	}
	e.clock.Advance(until.Sub(e.clock.Now()))
	if s := grant(old); s != http.StatusUnauthorized {
		t.Errorf("the replaced secret at its ValidUntil: %d, want 401", s)
	}
	if s := grant(current); s != http.StatusOK {
		t.Errorf("the new secret after the overlap: %d, want 200", s)
	}
	if s := grant("bm90LWEtc2VjcmV0LW9mLWFueS1jbGllbnQtYXQtYWxsLi4u"); s != http.StatusUnauthorized {
		t.Errorf("a wrong secret: %d, want 401", s)
	}
}
