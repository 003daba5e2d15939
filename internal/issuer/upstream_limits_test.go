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
	limiter "github.com/idtenant/idtenant/internal/issuer/limiter"
)

// TestUpstreamTokenRequestsAreBounded (review of N4): bogus callbacks, each
// of its own pending login, reach the upstream's token endpoint (with the
// Tenant's client secret) at the connection's rate only, and one address
// at its share of it only; past either the callback is answered 503 with
// Retry-After, nothing is sent upstream, and it is counted as throttled —
// while another address still gets through.
func TestUpstreamTokenRequestsAreBounded(t *testing.T) {
	fake := newFakeUpstream(t)
	f := newFederation(t, func(c *v1alpha1.Connection) { c.OIDC.IssuerURL = fake.srv.URL })
	f.down.srv.exchangeRate, f.down.srv.exchangeBurst = 0, 5          // five, then none
	f.down.srv.exchangeAddrBudget = limiter.NewBudget(3, time.Minute) // three per address
	// The test's requests come through a proxy on loopback that says whom
	// for.
	doc := *f.down.doc
	doc.Tenant.Spec.TrustedProxies = []string{"127.0.0.1"}
	doc.Generation++
	if err := f.down.srv.Swap(&doc); err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	exchanges := 0
	now := f.down.clock.Now()
	fake.idToken = func(n string) string {
		exchanges++
		return fake.sign(t, other, "k1", map[string]any{"iss": fake.srv.URL, "aud": "web.shop", "sub": "u1", "nonce": n,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	}
	cfg := f.downConfig("openid")
	callback := func(address string) (*http.Response, string) {
		t.Helper()
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
		return f.getFrom(t, f.down.issuer+pathLoginCallback+"?code=bogus&state="+url.QueryEscape(loc.Query().Get("state")), address, nil)
	}
	refused := func(resp *http.Response, body string) bool {
		return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" && strings.Contains(body, "Try again in a few seconds")
	}
	for i := range 4 {
		if resp, body := callback("198.51.100.7"); refused(resp, body) != (i >= 3) {
			t.Errorf("callback %d from one address: %d, refused want %v", i+1, resp.StatusCode, i >= 3)
		}
	}
	for i := range 3 {
		if resp, body := callback("203.0.113.9"); refused(resp, body) != (i >= 2) {
			t.Errorf("callback %d from another address: %d, refused want %v (the connection's five are spent)", i+1, resp.StatusCode, i >= 2)
		}
	}
	if exchanges != 5 {
		t.Errorf("%d token requests reached the upstream, want 5", exchanges)
	}
	if got := f.upstreamLogins("corp", upstreamThrottled); got != 2 {
		t.Errorf("throttled callbacks counted: %v, want 2", got)
	}
}
