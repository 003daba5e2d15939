package issuer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestHTTPSCookiesUseHostPrefix: on an https issuer the session and CSRF
// cookies are __Host- cookies (Secure, Path=/, no Domain), so a sibling
// subdomain cannot plant them; tenants on different paths of one host get
// different names.
func TestHTTPSCookiesUseHostPrefix(t *testing.T) {
	doc := issuertest.Doc(t, "https://id.acme.test/tenants/acme")
	srv, err := New(doc, Options{Clock: &fakeClock{}})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"client_id": {"web.shop"}, "redirect_uri": {webCB}, "response_type": {"code"}, "scope": {"openid"}}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://id.acme.test/tenants/acme/authorize?"+q.Encode(), nil))
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusFound || !strings.Contains(loc, "/login?r=") {
		t.Fatalf("authorize: %d %s", rec.Code, loc)
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, loc, nil))
	set := rec.Header().Get("Set-Cookie")
	if !regexp.MustCompile(`^__Host-idtenant_csrf_[0-9a-f]{8}=[^;]+; Path=/; HttpOnly; Secure; SameSite=Strict$`).MatchString(set) {
		t.Errorf("CSRF cookie on an https issuer: %q", set)
	}
	c := srv.cfg.Load()
	session := sessionCookieFor(c, "v", 0).String()
	if !regexp.MustCompile(`^__Host-idtenant_session_[0-9a-f]{8}=v; Path=/; HttpOnly; Secure; SameSite=Lax$`).MatchString(session) {
		t.Errorf("session cookie on an https issuer: %q", session)
	}
	other := cookieNames(true, "/tenants/other")
	if other.session == c.cookies.session {
		t.Error("two tenants on one host share a cookie name")
	}
	if root := cookieNames(true, ""); root.session != "__Host-idtenant_session" {
		t.Errorf("root issuer session cookie %q", root.session)
	}
}

// TestLogoutWithoutHintAsksFirst: a cross-site link to /logout cannot end
// the user's session; the user confirms on the issuer's own page.
func TestLogoutWithoutHintAsksFirst(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	if _, err := e.loginFlow(b, "web.shop", webCB); err != nil {
		t.Fatal(err)
	}
	resp, page := b.get(e.issuer + pathEndSession + "?post_logout_redirect_uri=" + url.QueryEscape("https://web.acme.test/bye") + "&client_id=web.shop&state=x")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<form method="post" action="logout">`) || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("logout without id_token_hint: %d\n%s", resp.StatusCode, page)
	}
	if cb := e.silent(b); cb.Get("code") == "" {
		t.Fatalf("the session ended on a GET without id_token_hint: %v", cb)
	}
	// A POST from another site is refused.
	req, _ := http.NewRequest(http.MethodPost, e.issuer+pathEndSession, strings.NewReader("client_id=web.shop"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.test")
	if resp, err := b.client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site logout POST: %v %v", resp.StatusCode, err)
	}
	if cb := e.silent(b); cb.Get("code") == "" {
		t.Fatalf("the session ended on a cross-site POST: %v", cb)
	}
	// The user confirms: the form posts back and the session ends.
	form := url.Values{}
	for _, m := range regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
	}
	req, _ = http.NewRequest(http.MethodPost, e.issuer+pathEndSession, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.issuer)
	resp, err := b.client.Do(req)
	if err != nil || resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://web.acme.test/bye?state=x" {
		t.Fatalf("confirmed logout: %v %v", resp, err)
	}
	if cb := e.silent(b); cb.Get("error") != "login_required" {
		t.Errorf("after confirming: %v", cb)
	}
}

// TestAuthorizationResponsesCarryIss: RFC 9207, for codes, front-channel
// tokens and errors, and advertised in discovery.
func TestAuthorizationResponsesCarryIss(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	resp, body := b.authorize(cfg.AuthCodeURL("s"), "alice", "correct horse")
	if cb := callback(t, resp, body); cb.Get("iss") != e.issuer || cb.Get("code") == "" {
		t.Errorf("code response from the login: %v", cb)
	}
	resp, body = b.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, resp, body); cb.Get("iss") != e.issuer || cb.Get("code") == "" {
		t.Errorf("code response from the session: %v", cb)
	}
	resp, body = b.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", "id_token token"), oauth2.SetAuthURLParam("nonce", "n")))
	if cb := callback(t, resp, body); cb.Get("iss") != e.issuer || cb.Get("access_token") == "" {
		t.Errorf("fragment response: %v", cb)
	}
	resp, body = e.browser().get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, resp, body); cb.Get("iss") != e.issuer || cb.Get("error") != "login_required" {
		t.Errorf("error response: %v", cb)
	}
	var meta map[string]any
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/openid-configuration", nil)
	if _, meta = e.do(req); meta["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("discovery does not advertise iss: %v", meta["authorization_response_iss_parameter_supported"])
	}
}

// TestTokenEndpointRefusesCredentialsInTheURL: client secrets, codes and
// tokens in a query string end up in logs; they are refused, not merged
// into the form.
func TestTokenEndpointRefusesCredentialsInTheURL(t *testing.T) {
	e := newEnv(t, nil)
	for path, query := range map[string]string{
		PathToken:      "client_id=m2m.shop&client_secret=" + url.QueryEscape(issuertest.Secrets["m2m.shop"]),
		pathIntrospect: "token=x",
		pathRevoke:     "token=x",
	} {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+path+"?"+query, strings.NewReader("grant_type=client_credentials&audience=https%3A%2F%2Forders.acme.test"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if status, body := e.do(req); status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("%s with parameters in the URL: %d %v", path, status, body)
		}
	}
}

// TestIntrospectionOnlyForTheTokensClientOrItsAPI: a client of another
// team learns nothing about an access token; the issuing client and the
// API owner's clients do.
func TestIntrospectionOnlyForTheTokensClientOrItsAPI(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) {
		o := issuerconfig.Application{ClientID: "outsider.other"}
		o.Name, o.Namespace = "outsider", "other"
		o.Spec = v1alpha1.ApplicationSpec{TenantRef: v1alpha1.TenantReference{Name: "acme"}, Type: v1alpha1.MachineToMachine,
			APIs: []v1alpha1.APIAccess{{Name: "payments", Namespace: "shop"}}}
		issuertest.Secrets[o.ClientID], o.SecretSHA256 = issuertest.SecretFor(o.ClientID)
		d.Applications = append(d.Applications, o)
	})
	tok, err := e.loginFlow(e.browser(), "web.shop", webCB)
	if err != nil {
		t.Fatal(err)
	}
	for caller, want := range map[string]bool{"web.shop": true, "m2m.shop": true, "outsider.other": false} {
		_, body := e.form(pathIntrospect, url.Values{"token": {tok.AccessToken}}, caller, issuertest.Secrets[caller])
		if body["active"] != want {
			t.Errorf("introspection by %s: %v, want active=%v", caller, body, want)
		}
	}
}
