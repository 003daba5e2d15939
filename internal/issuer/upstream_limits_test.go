package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestUpstreamTokenRequestsAreBounded (review of N4): bogus callbacks, each
// of its own pending login, reach the upstream's token endpoint (with the
// Tenant's client secret) at the connection's rate only; past it the
// callback is answered 503 with Retry-After, nothing is sent upstream, and
// it is counted as throttled.
func TestUpstreamTokenRequestsAreBounded(t *testing.T) {
	fake := newFakeUpstream(t)
	f := newFederation(t, func(c *v1alpha1.Connection) { c.OIDC.IssuerURL = fake.srv.URL })
	f.down.srv.exchangeRate, f.down.srv.exchangeBurst = 0, 3 // three, then none
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	exchanges := 0
	now := f.down.clock.Now()
	fake.idToken = func(n string) string {
		exchanges++
		return fake.sign(t, other, "k1", map[string]any{"iss": fake.srv.URL, "aud": "web.shop", "sub": "u1", "nonce": n,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	}
	cfg := f.downConfig("openid")
	for i := range 5 {
		c := newBrowserClient()
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), fake.srv.URL) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		f.client = c
		resp, _ := f.get(t, cfg.AuthCodeURL("app-state"))
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.String(), fake.srv.URL+"/auth") {
			t.Fatalf("not sent to the upstream: %d", resp.StatusCode)
		}
		fake.nonce = loc.Query().Get("nonce")
		resp, body := f.get(t, f.down.issuer+pathLoginCallback+"?code=bogus&state="+url.QueryEscape(loc.Query().Get("state")))
		if i >= 3 && (resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Try again in a few seconds")) {
			t.Errorf("callback %d past the connection's rate: %d %q", i+1, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if exchanges != 3 {
		t.Errorf("%d token requests reached the upstream, want 3", exchanges)
	}
	if got := f.upstreamLogins("corp", upstreamThrottled); got != 2 {
		t.Errorf("throttled callbacks counted: %v, want 2", got)
	}
}
