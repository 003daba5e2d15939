package issuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// An issuer URL with a path serves everything under it, and cookies stay
// under it too.
func TestIssuerURLWithAPath(t *testing.T) {
	var base string
	e := newEnv(t, func(d *issuerconfig.Document) {
		base = d.Tenant.Spec.IssuerURL
		d.Tenant.Spec.IssuerURL = base + "/t/acme"
	})
	e.issuer = base + "/t/acme"
	p := e.provider() // go-oidc checks the discovered issuer equals the URL
	if got := p.Endpoint().TokenURL; got != e.issuer+PathToken {
		t.Errorf("token endpoint = %s", got)
	}
	cfg := clientcredentials.Config{ClientID: "m2m.shop", ClientSecret: issuertest.Secrets["m2m.shop"], TokenURL: p.Endpoint().TokenURL,
		EndpointParams: url.Values{"audience": {"https://orders.acme.test"}}}
	tok, err := cfg.Token(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.verifyAccess(tok.AccessToken, "https://orders.acme.test")
	resp, err := e.http.Client().Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("discovery outside the issuer path: %d, want 404", resp.StatusCode)
	}
	b := e.browser()
	r, body := b.authorize(e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid").AuthCodeURL("s"), "alice", "correct horse")
	if cb := callback(t, r, body); cb.Get("code") == "" {
		t.Fatalf("login under a path: %v", cb)
	}
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") && !strings.Contains(c, "Path=/t/acme") {
			t.Errorf("session cookie not scoped to the issuer path: %s", c)
		}
	}
}

func TestSessionCookieIsSecureOnHTTPS(t *testing.T) {
	doc := issuertest.Doc(t, "https://id.acme.test")
	c, err := compile(doc, newStateKey())
	if err != nil {
		t.Fatal(err)
	}
	ck := sessionCookieFor(c, "v", 0)
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Domain != "" {
		t.Errorf("cookie on an https issuer: %+v", ck)
	}
}
