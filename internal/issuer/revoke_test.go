package issuer

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

func (e *env) form(path string, form url.Values, user, pass string) (int, map[string]any) {
	e.t.Helper()
	return e.postForm(path, form, user, pass)
}

func (e *env) logout(b *browser, idToken string) {
	e.t.Helper()
	q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://web.acme.test/bye"}, "state": {"later"}}
	resp, _ := b.get(e.issuer + pathEndSession + "?" + q.Encode())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://web.acme.test/bye?state=later" {
		e.t.Fatalf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestRevocationAndIntrospectionAgree(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.loginFlow(e.browser(), "web.shop", "https://web.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	web, secret := "web.shop", issuertest.Secrets["web.shop"]
	introspect := func(token string) map[string]any {
		status, body := e.form(pathIntrospect, url.Values{"token": {token}}, web, secret)
		if status != http.StatusOK {
			t.Fatalf("introspect: %d %v", status, body)
		}
		return body
	}
	if got := introspect(tok.AccessToken); got["active"] != true || got["client_id"] != web || got["sub"] != "alice" {
		t.Errorf("live access token: %v", got)
	}
	if got := introspect(tok.RefreshToken); got["active"] != true {
		t.Errorf("live refresh token: %v", got)
	}
	// userinfo accepts the live access token.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+pathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if status, body := e.do(req); status != http.StatusOK || body["sub"] != "alice" {
		t.Errorf("userinfo: %d %v", status, body)
	}
	for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
		if status, _ := e.form(pathRevoke, url.Values{"token": {tk}}, web, secret); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		if got := introspect(tk); got["active"] != false {
			t.Errorf("revoked token still active: %v", got)
		}
	}
	if status, _ := e.do(req); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked token: %d, want 401", status)
	}
	if _, body := e.refresh(web, tok.RefreshToken); body["error"] != "invalid_grant" {
		t.Errorf("refresh with a revoked token: %v", body)
	}
	// Another client cannot revoke or see this client's refresh tokens.
	tok2, _ := e.loginFlow(e.browser(), "web.shop", "https://web.acme.test/cb")
	if status, _ := e.form(pathRevoke, url.Values{"token": {tok2.RefreshToken}, "client_id": {"spa.shop"}}, "", ""); status != http.StatusOK {
		t.Errorf("foreign revoke must still answer 200, got %d", status)
	}
	if got := introspect(tok2.RefreshToken); got["active"] != true {
		t.Errorf("another client revoked web.shop's token: %v", got)
	}
	if got, _ := e.form(pathIntrospect, url.Values{"token": {tok2.AccessToken}}, web, "wrong"); got != http.StatusUnauthorized {
		t.Errorf("introspection with a wrong secret: %d", got)
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	tok, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	e.logout(b, tok.Extra("id_token").(string))
	if cb := e.silent(b); cb.Get("error") != "login_required" {
		t.Errorf("prompt=none after logout: %v", cb)
	}
	if _, body := e.refresh("web.shop", tok.RefreshToken); body["error"] != "invalid_grant" {
		t.Errorf("session-bound refresh after logout: %v", body)
	}
	// An unregistered post-logout URI is refused, not followed.
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"https://evil.test/"}}
	resp, _ := b.get(e.issuer + pathEndSession + "?" + q.Encode())
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unregistered post_logout_redirect_uri: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
