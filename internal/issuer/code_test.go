package issuer

import (
	"net/http"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	limiter "github.com/idtenant/idtenant/internal/issuer/limiter"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// loginFlow runs code + PKCE for clientID through the login page and
// returns the token response.
func (e *env) loginFlow(b *browser, clientID, redirect string, extra ...oauth2.AuthCodeOption) (*oauth2.Token, error) {
	e.t.Helper()
	cfg := e.oauth2Config(clientID, redirect, gooidc.ScopeOpenID, "read:orders")
	verifier := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-0S6_WzA2Mj"),
		oauth2.SetAuthURLParam("audience", "https://orders.acme.test")}, extra...)
	resp, body := b.authorize(cfg.AuthCodeURL("st4te", opts...), "alice", "correct horse")
	cb := callback(e.t, resp, body)
	if cb.Get("state") != "st4te" {
		e.t.Fatalf("state = %q, want st4te (callback %v)", cb.Get("state"), cb)
	}
	if cb.Get("error") != "" {
		e.t.Fatalf("authorization error: %v", cb)
	}
	return cfg.Exchange(e.ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
}

func TestCodePKCELifetimesPerApplicationType(t *testing.T) {
	cases := []struct {
		client, redirect string
		flow             string
		wantID, wantAT   time.Duration
	}{
		{"spa.shop", "https://spa.acme.test/cb", "Browser", 20 * time.Minute, 30 * time.Minute},
		{"web.shop", "https://web.acme.test/cb", "Standard", 45 * time.Minute, 3 * time.Hour},
		{"native.shop", "com.acme.app:/cb", "Standard", 10 * time.Hour, 3 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.client, func(t *testing.T) {
			e := newEnv(t, nil)
			eff := effective(t, e.doc, c.client)
			if eff.IDToken.Duration != c.wantID {
				t.Fatalf("internal/lifetime ID token = %s, test expects %s", eff.IDToken.Duration, c.wantID)
			}
			at, ok := eff.Lookup("shop/orders", toFlow(c.flow))
			if !ok || at.Lifetime.Duration != c.wantAT {
				t.Fatalf("internal/lifetime access token = %+v, test expects %s", at, c.wantAT)
			}
			tok, err := e.loginFlow(e.browser(), c.client, c.redirect)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := e.provider().Verifier(&gooidc.Config{ClientID: c.client, Now: e.clock.Now}).Verify(e.ctx, rawID)
			if err != nil {
				t.Fatalf("ID token does not verify: %v", err)
			}
			if idt.Nonce != "n-0S6_WzA2Mj" || idt.Subject != "alice" {
				t.Errorf("ID token nonce %q sub %q", idt.Nonce, idt.Subject)
			}
			// Native keeps the 10h default, which the 8h absolute session
			// deadline caps: exp = min(iat + lifetime, deadline).
			wantID := min(c.wantID, 8*time.Hour)
			if got := idt.Expiry.Sub(idt.IssuedAt); got != wantID {
				t.Errorf("ID token exp - iat = %s, want %s", got, wantID)
			}
			_, idClaims := jwtParts(t, rawID)
			for _, k := range []string{"auth_time", "sid"} {
				if _, ok := idClaims[k]; !ok {
					t.Errorf("ID token lacks %s", k)
				}
			}
			claims := e.verifyAccess(tok.AccessToken, "https://orders.acme.test")
			if got := lifetimeOf(t, tok.AccessToken); got != c.wantAT {
				t.Errorf("access token exp - iat = %s, want %s (%s flow)", got, c.wantAT, c.flow)
			}
			if claims["scope"] != "openid read:orders" || claims["client_id"] != c.client {
				t.Errorf("access token scope %v client_id %v", claims["scope"], claims["client_id"])
			}
			if got := time.Duration(tok.ExpiresIn) * time.Second; got != c.wantAT {
				t.Errorf("expires_in = %s, want %s", got, c.wantAT)
			}
			if tok.RefreshToken == "" {
				t.Error("no refresh token")
			}
		})
	}
}

func toFlow(s string) v1alpha1.AccessFlow { return v1alpha1.AccessFlow(s) }

func TestImplicitAndHybridGetTheBrowserLifetime(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid", "read:orders")
	for _, c := range []struct {
		rt       string
		wantHash []string
	}{
		{"id_token token", []string{"at_hash"}},
		{"code id_token token", []string{"at_hash", "c_hash"}},
		{"code id_token", []string{"c_hash"}},
	} {
		t.Run(c.rt, func(t *testing.T) {
			u := cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", c.rt), oauth2.SetAuthURLParam("nonce", "abc"),
				oauth2.SetAuthURLParam("audience", "https://orders.acme.test"))
			resp, body := b.authorize(u, "alice", "correct horse")
			if !strings.Contains(resp.Header.Get("Location"), "#") {
				t.Fatalf("response not in the fragment: %s", resp.Header.Get("Location"))
			}
			cb := callback(t, resp, body)
			if at := cb.Get("access_token"); lifetime.ResponseTypeDeliversToken(c.rt) {
				e.verifyAccess(at, "https://orders.acme.test")
				if got := lifetimeOf(t, at); got != 30*time.Minute {
					t.Errorf("front-channel access token exp - iat = %s, want the 30m browser lifetime", got)
				}
				if cb.Get("expires_in") != "1800" {
					t.Errorf("expires_in = %s", cb.Get("expires_in"))
				}
			}
			idt := cb.Get("id_token")
			if _, err := e.provider().Verifier(&gooidc.Config{ClientID: "web.shop", Now: e.clock.Now}).Verify(e.ctx, idt); err != nil {
				t.Fatalf("ID token: %v", err)
			}
			_, claims := jwtParts(t, idt)
			for _, h := range c.wantHash {
				if claims[h] == nil {
					t.Errorf("ID token lacks %s", h)
				}
			}
			if strings.Contains(c.rt, "code") {
				// The code's back-channel token is a standard-flow token.
				tok, err := cfg.Exchange(e.ctx, cb.Get("code"))
				if err != nil {
					t.Fatal(err)
				}
				if got := lifetimeOf(t, tok.AccessToken); got != 3*time.Hour {
					t.Errorf("back-channel access token exp - iat = %s, want 3h", got)
				}
			}
		})
	}
	// A response type the application does not list is refused.
	spa := e.oauth2Config("spa.shop", "https://spa.acme.test/cb", "openid")
	resp, _ := b.authorize(spa.AuthCodeURL("s", oauth2.SetAuthURLParam("response_type", "id_token token"), oauth2.SetAuthURLParam("nonce", "n")), "alice", "correct horse")
	if cb := callback(t, resp, ""); cb.Get("error") != "unauthorized_client" {
		t.Errorf("unlisted response type: %v", cb)
	}
}

func TestLoginPageIsAccessibleAndCSRFProtected(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid")
	resp, page := b.get(cfg.AuthCodeURL("s"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	for _, want := range []string{`<html lang="en">`, `<label for="username">`, `<label for="password">`, `autocomplete="current-password"`, `name="csrf"`} {
		if !strings.Contains(page, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("login page references %q (no external assets or scripts)", bad)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	// A form posted without the CSRF cookie (from another site) is refused.
	other := e.browser()
	r, _ := other.login(page, "alice", "correct horse")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login post: %d, want 403", r.StatusCode)
	}
	// The real browser logs in and gets a host-only, HttpOnly, Lax cookie.
	r, body := b.login(page, "alice", "correct horse")
	if cb := callback(t, r, body); cb.Get("code") == "" {
		t.Fatalf("no code: %v", cb)
	}
	var set string
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") {
			set = c
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "Domain=") || strings.Contains(set, "Secure") {
		t.Errorf("session cookie %q: must be host-only, and Secure only on https", set)
	}
}

func TestFailedLoginsAreSlowedDown(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid")
	_, page := b.get(cfg.AuthCodeURL("s"))
	for i := 0; i < limiter.FreeFailures; i++ {
		r, p := b.login(page, "alice", "wrong")
		if r.StatusCode != http.StatusUnauthorized || !strings.Contains(p, "Wrong username or password") {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
		page = p
	}
	// Even the right password must now wait.
	r, p := b.login(page, "alice", "correct horse")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("after %d failures: %d Retry-After %q", limiter.FreeFailures, r.StatusCode, r.Header.Get("Retry-After"))
	}
	e.clock.Advance(time.Second)
	r, p = b.login(p, "alice", "wrong")
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after waiting: %d", r.StatusCode)
	}
	// The delay doubles.
	r, p = b.login(p, "alice", "correct horse")
	if r.Header.Get("Retry-After") != "2" {
		t.Errorf("second delay Retry-After = %q, want 2", r.Header.Get("Retry-After"))
	}
	e.clock.Advance(2 * time.Second)
	r, body := b.login(p, "alice", "correct horse")
	if cb := callback(t, r, body); cb.Get("code") == "" {
		t.Errorf("login after waiting failed: %v", cb)
	}
}

// RFC 8252 7.3: a native app listens on a loopback port it picks at run
// time; the registered loopback URI matches on any port.
func TestNativeLoopbackRedirectAnyPort(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.loginFlow(e.browser(), "native.shop", "http://127.0.0.1:53111/cb")
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := lifetimeOf(t, tok.AccessToken); got != 3*time.Hour {
		t.Errorf("native access token = %s, want 3h", got)
	}
}
