package issuer

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/lifetime"
)

func (e *env) refresh(clientID, rt string) (int, map[string]any) {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if issuertest.Secrets[clientID] == "" {
		form.Set("client_id", clientID)
		return e.tokenPost(form, "", "")
	}
	return e.tokenPost(form, clientID, issuertest.Secrets[clientID])
}

func (e *env) offlineLogin(b *browser) *oauth2.Token {
	e.t.Helper()
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid", "offline_access", "read:orders")
	resp, body := b.authorize(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("audience", "https://orders.acme.test")), "alice", "correct horse")
	tok, err := cfg.Exchange(e.ctx, callback(e.t, resp, body).Get("code"))
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.loginFlow(e.browser(), "web.shop", "https://web.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	first := tok.RefreshToken
	status, body := e.refresh("web.shop", first)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	second := body["refresh_token"].(string)
	if second == first {
		t.Fatal("refresh token was not rotated")
	}
	if got := lifetimeOf(t, body["access_token"].(string)); got != 3*time.Hour {
		t.Errorf("refreshed access token exp - iat = %s, want 3h", got)
	}
	// Within reuseInterval (10s) the old token is a tolerated retry.
	e.clock.Advance(5 * time.Second)
	if status, body := e.refresh("web.shop", first); status != http.StatusOK {
		t.Fatalf("retry within reuseInterval: %d %v", status, body)
	}
	// After it, reuse revokes the whole family, including the newest token.
	e.clock.Advance(10 * time.Second)
	if status, body := e.refresh("web.shop", first); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v, want invalid_grant", status, body)
	}
	if status, body := e.refresh("web.shop", second); body["error"] != "invalid_grant" {
		t.Errorf("family member after reuse: %d %v, want invalid_grant", status, body)
	}
}

// The default reuseInterval (10s): a retry right after a rotation whose
// response was lost gets the very successor it missed; the same token
// presented after the window is reuse and revokes the grant.
func TestRefreshDefaultReuseIntervalToleratesARetry(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.loginFlow(e.browser(), "spa.shop", "https://spa.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	status, body := e.refresh("spa.shop", tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if got := lifetimeOf(t, body["access_token"].(string)); got != 30*time.Minute {
		t.Errorf("SinglePage refreshed access token = %s, want the 30m browser lifetime", got)
	}
	successor := body["refresh_token"].(string)
	if status, retry := e.refresh("spa.shop", tok.RefreshToken); status != http.StatusOK || retry["refresh_token"] != successor {
		t.Fatalf("immediate retry: %d, same successor %v (%v)", status, retry["refresh_token"] == successor, retry["error"])
	}
	e.clock.Advance(lifetime.DefaultRefreshReuseInterval + 2*time.Second)
	if _, body := e.refresh("spa.shop", tok.RefreshToken); body["error"] != "invalid_grant" {
		t.Fatalf("reuse after the window: %v", body)
	}
	if _, body := e.refresh("spa.shop", successor); body["error"] != "invalid_grant" {
		t.Errorf("rotated successor survived reuse: %v", body)
	}
}

func TestRefreshRefusedAfterSessionEndsAndSlidesIt(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	tok, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	rt := tok.RefreshToken
	// A session-bound refresh counts as activity: 3 x 50m keeps the 1h-idle
	// session alive.
	for i := 0; i < 3; i++ {
		e.clock.Advance(50 * time.Minute)
		status, body := e.refresh("web.shop", rt)
		if status != http.StatusOK {
			t.Fatalf("refresh %d: %d %v", i, status, body)
		}
		rt = body["refresh_token"].(string)
	}
	if cb := e.silent(b); cb.Get("code") == "" {
		t.Fatalf("refresh grants did not slide the session: %v", cb)
	}
	e.clock.Advance(time.Hour)
	if _, body := e.refresh("web.shop", rt); body["error"] != "invalid_grant" {
		t.Errorf("refresh after the session ended: %v, want invalid_grant", body)
	}
}

func TestOfflineRefreshOutlivesSessionWithinItsOwnLifetimes(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	tok := e.offlineLogin(b)
	// Logout ends the session; the offline token is not bound to it.
	e.logout(b, tok.Extra("id_token").(string))
	rt := tok.RefreshToken
	// Inactivity lifetime 24h: used every 23h it lives until the 72h
	// absolute lifetime counted from the grant.
	for i := 0; i < 3; i++ {
		e.clock.Advance(23 * time.Hour)
		status, body := e.refresh("web.shop", rt)
		if status != http.StatusOK {
			t.Fatalf("offline refresh at %dh: %d %v", 23*(i+1), status, body)
		}
		if got := lifetimeOf(t, body["access_token"].(string)); got != 3*time.Hour {
			t.Errorf("offline access token = %s, want the full 3h (no session cap)", got)
		}
		rt = body["refresh_token"].(string)
	}
	e.clock.Advance(3 * time.Hour) // 72h after the grant
	if _, body := e.refresh("web.shop", rt); body["error"] != "invalid_grant" {
		t.Errorf("refresh at the 72h absolute lifetime: %v", body)
	}
	// Unused for its 24h inactivity lifetime, a fresh offline token dies.
	tok2 := e.offlineLogin(e.browser())
	e.clock.Advance(24 * time.Hour)
	if _, body := e.refresh("web.shop", tok2.RefreshToken); body["error"] != "invalid_grant" {
		t.Errorf("refresh after 24h unused: %v", body)
	}
}
