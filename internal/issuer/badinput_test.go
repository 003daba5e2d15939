package issuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

func TestTokenEndpointBadInput(t *testing.T) {
	e := newEnv(t, nil)
	m2m, secret := "m2m.shop", issuertest.Secrets["m2m.shop"]
	cc := func(extra url.Values) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	cases := []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		err        string
	}{
		{"unknown client", cc(nil), "nobody.shop", "x", 401, "invalid_client"},
		{"wrong secret", cc(nil), m2m, "wrong", 401, "invalid_client"},
		{"secret in both header and body", cc(url.Values{"client_id": {m2m}, "client_secret": {secret}}), m2m, secret, 400, "invalid_request"},
		{"no client at all", cc(nil), "", "", 400, "invalid_request"},
		{"unsupported grant type", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}}, m2m, secret, 400, "unsupported_grant_type"},
		{"missing grant type", url.Values{}, m2m, secret, 400, "invalid_request"},
		{"grant not allowed for the application", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"https://x"}}, m2m, secret, 400, "unauthorized_client"},
		{"audience not allowed", cc(url.Values{"audience": {"https://billing.acme.test"}}), m2m, secret, 400, "invalid_target"},
		{"two resources", cc(url.Values{"resource": {"https://orders.acme.test", "https://payments.acme.test"}}), m2m, secret, 400, "invalid_target"},
		{"no audience with several APIs", cc(nil), m2m, secret, 400, "invalid_target"},
		{"scope not allowed", cc(url.Values{"audience": {"https://orders.acme.test"}, "scope": {"write:orders"}}), m2m, secret, 400, "invalid_scope"},
		{"user scope for a machine", cc(url.Values{"audience": {"https://orders.acme.test"}, "scope": {"openid"}}), m2m, secret, 400, "invalid_scope"},
		{"public client cannot use client_credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa.shop"}}, "", "", 400, "unauthorized_client"},
		{"public client sending a secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"spa.shop"}, "client_secret": {"guess"}}, "", "", 401, "invalid_client"},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {"spa.shop"}}, "", "", 400, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.tokenPost(c.form, c.user, c.pass)
			if status != c.status || body["error"] != c.err {
				t.Errorf("got %d %v, want %d %s", status, body, c.status, c.err)
			}
			if _, leaked := body["access_token"]; leaked {
				t.Error("an access token came with an error")
			}
		})
	}
}

func TestMalformedAndOversizedRequests(t *testing.T) {
	e := newEnv(t, nil)
	post := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("m2m.shop", issuertest.Secrets["m2m.shop"])
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("grant_type=client_credentials&audience=%zz"); got != http.StatusBadRequest {
		t.Errorf("bad percent-encoding: %d", got)
	}
	if got := post("grant_type=client_credentials&scope=" + strings.Repeat("a", maxBodyBytes+1)); got != http.StatusBadRequest {
		t.Errorf("oversized body: %d", got)
	}
	for _, p := range []string{PathToken, pathIntrospect, pathRevoke} {
		q := url.Values{"grant_type": {"client_credentials"}, "client_id": {"m2m.shop"}, "client_secret": {issuertest.Secrets["m2m.shop"]}, "token": {"x"}}
		resp, err := e.http.Client().Get(e.issuer + p + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s with credentials in the URL: %d, want 405", p, resp.StatusCode)
		}
	}
	resp, err := e.http.Client().Get(e.issuer + pathAuthorize + "?client_id=web.shop&state=" + strings.Repeat("x", maxQueryBytes+1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestURITooLong {
		t.Errorf("oversized query: %d", resp.StatusCode)
	}
}

func TestAuthorizeBadInput(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	// Unknown client and unregistered redirect URI: an error answer at the
	// issuer, never a redirect to the (possibly attacker's) URI.
	for name, q := range map[string]url.Values{
		"unknown client":           {"client_id": {"nobody.shop"}, "redirect_uri": {"https://evil.test/cb"}, "response_type": {"code"}, "scope": {"openid"}},
		"unregistered redirect":    {"client_id": {"web.shop"}, "redirect_uri": {"https://evil.test/cb"}, "response_type": {"code"}, "scope": {"openid"}},
		"redirect prefix trick":    {"client_id": {"web.shop"}, "redirect_uri": {"https://web.acme.test/cb/../evil"}, "response_type": {"code"}, "scope": {"openid"}},
		"machine has no user flow": {"client_id": {"m2m.shop"}, "redirect_uri": {"https://evil.test/cb"}, "response_type": {"code"}, "scope": {"openid"}},
		"request object":           {"client_id": {"web.shop"}, "redirect_uri": {"https://web.acme.test/cb"}, "response_type": {"code"}, "request": {"eyJ"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := b.get(e.issuer + pathAuthorize + "?" + q.Encode())
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("got %d Location=%q, want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if strings.Contains(body, "evil.test") {
				t.Errorf("error page echoes the redirect URI: %s", body)
			}
		})
	}
	spa := e.oauth2Config("spa.shop", "https://spa.acme.test/cb", "openid")
	web := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid")
	v := oauth2.GenerateVerifier()
	for name, c := range map[string]struct {
		url, err string
	}{
		"public client without PKCE":      {spa.AuthCodeURL("s"), "invalid_request"},
		"plain PKCE from a public client": {spa.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")), "invalid_request"},
		"unknown PKCE method":             {spa.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "S512")), "invalid_request"},
		"response type not listed":        {web.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", "code token")), "unauthorized_client"},
		"unknown response type":           {web.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", "banana")), "unauthorized_client"},
		"audience not allowed":            {web.AuthCodeURL("s", oauth2.SetAuthURLParam("audience", "https://payments.acme.test")), "invalid_target"},
		"scope not allowed":               {web.AuthCodeURL("s", oauth2.SetAuthURLParam("scope", "openid write:orders"), oauth2.SetAuthURLParam("audience", "https://orders.acme.test")), "invalid_scope"},
		"implicit without nonce":          {web.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", "id_token token")), "invalid_request"},
		"prompt none with another prompt": {web.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none login")), "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := b.get(c.url)
			cb := callback(t, resp, body)
			if cb.Get("error") != c.err || cb.Get("state") != "s" {
				t.Errorf("got %v, want error %s with state", cb, c.err)
			}
		})
	}
}

func TestCodeRedemptionBadInput(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	spa := e.oauth2Config("spa.shop", "https://spa.acme.test/cb", "openid")
	newCode := func() (string, string) {
		v := oauth2.GenerateVerifier()
		resp, body := b.authorize(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "correct horse")
		return callback(t, resp, body).Get("code"), v
	}
	redeem := func(code string, form url.Values) (int, map[string]any) {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://spa.acme.test/cb"}, "client_id": {"spa.shop"}}
		for k, v := range form {
			f[k] = v
		}
		return e.tokenPost(f, "", "")
	}
	code, _ := newCode()
	if _, body := redeem(code, nil); body["error"] != "invalid_grant" {
		t.Errorf("missing verifier: %v", body)
	}
	code, _ = newCode()
	if _, body := redeem(code, url.Values{"code_verifier": {oauth2.GenerateVerifier()}}); body["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %v", body)
	}
	code, v := newCode()
	if _, body := redeem(code, url.Values{"code_verifier": {v}, "client_id": {"native.shop"}}); body["error"] != "invalid_grant" {
		t.Errorf("code of another client: %v", body)
	}
	code, v = newCode()
	if _, body := redeem(code, url.Values{"code_verifier": {v}, "redirect_uri": {"https://spa.acme.test/other"}}); body["error"] != "invalid_grant" {
		t.Errorf("different redirect_uri: %v", body)
	}
	code, v = newCode()
	status, first := redeem(code, url.Values{"code_verifier": {v}})
	if status != http.StatusOK {
		t.Fatalf("good redemption: %d %v", status, first)
	}
	if _, body := redeem(code, url.Values{"code_verifier": {v}}); body["error"] != "invalid_grant" {
		t.Errorf("reused code: %v", body)
	}
	// The replay revokes what the first redemption issued (RFC 6749 4.1.2).
	if _, body := e.refresh("spa.shop", first["refresh_token"].(string)); body["error"] != "invalid_grant" {
		t.Errorf("refresh token of a replayed code still works: %v", body)
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+pathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+first["access_token"].(string))
	if status, _ := e.do(req); status != http.StatusUnauthorized {
		t.Errorf("access token of a replayed code still accepted: %d", status)
	}
	code, v = newCode()
	e.clock.Advance(codeLifetime)
	if _, body := redeem(code, url.Values{"code_verifier": {v}}); body["error"] != "invalid_grant" {
		t.Errorf("expired code: %v", body)
	}
	// A refresh token of another client is refused.
	tok, err := e.loginFlow(e.browser(), "web.shop", "https://web.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	if _, body := e.refresh("spa.shop", tok.RefreshToken); body["error"] != "invalid_grant" {
		t.Errorf("refresh token of another client: %v", body)
	}
	if status, _ := e.refresh("web.shop", tok.RefreshToken); status != http.StatusOK {
		t.Errorf("the owner's refresh token was burnt by the foreign attempt: %d", status)
	}
}

// An invalid document never compiles (the command refuses it too:
// internal/issuer/command TestInvalidConfigIsRefused).
func TestInvalidConfigDoesNotCompile(t *testing.T) {
	for name, data := range issuertest.InvalidDocs {
		t.Run(name, func(t *testing.T) {
			if doc, perr := issuerconfig.Parse([]byte(data)); perr == nil {
				if _, cerr := compile(doc, newStateKey()); cerr == nil {
					t.Error("compile accepted it")
				}
			}
		})
	}
}
