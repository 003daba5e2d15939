package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestSpoofedForwardedForChangesNothing (security review N2): through the
// dev proxy (kube-proxy's part: it forwards connections, adding no
// header), a client that writes its own X-Forwarded-For, a new address
// for every guess, is still counted at the address it connects from, so
// the per-user delay meets it after the free failures. Once the Tenant
// lists that proxy address in spec.trustedProxies, the header is believed
// and a guess from another forwarded address is not delayed.
func TestSpoofedForwardedForChangesNothing(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	cfg := s.webConfig(t)
	authURL := cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("audience", s.orders.Spec.Audience))
	guess := func(forwardedFor string) int {
		t.Helper()
		b := newBrowser(t, s.issuer)
		resp, err := b.client.Get(authURL)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id, csrf := reID.FindStringSubmatch(string(body)), reCSRF.FindStringSubmatch(string(body))
		if id == nil || csrf == nil {
			t.Fatalf("no login page: %d %s", resp.StatusCode, body)
		}
		loginURL := *resp.Request.URL
		loginURL.RawQuery = ""
		form := url.Values{"r": {id[1]}, "csrf": {csrf[1]}, "username": {"alice@acme.test"}, "password": {"not-her-password"}}
		req, _ := http.NewRequest(http.MethodPost, loginURL.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		resp, err = b.client.Do(req)
		must(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Five failures are free, then each attempt at one (user, address)
	// waits a doubling delay (1s, 2s, 4s ...). On a loaded machine a guess
	// may come after a short delay is over, so the test asks for a refusal
	// within twelve guesses, each under a new forwarded address.
	refused := func(prefix string) bool {
		for i := range 12 {
			switch status := guess(fmt.Sprintf("%s.%d", prefix, i+1)); status {
			case http.StatusTooManyRequests:
				return true
			case http.StatusUnauthorized:
			default:
				t.Fatalf("guess %d: %d", i+1, status)
			}
		}
		return false
	}
	g.Expect(refused("198.51.100")).To(BeTrue(),
		"guesses under forwarded addresses nobody vouches for are counted where they connect from")

	patch(t, s.tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.TrustedProxies = []string{"127.0.0.0/8", "::1"}
	})
	waitReady(t, s.tenant)
	g.Expect(refused("203.0.113")).To(BeFalse(),
		"behind a trusted proxy, each forwarded address is a client of its own, with its own free failures")
}
