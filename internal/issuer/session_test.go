package issuer

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// silent asks for a code with prompt=none and returns the callback.
func (e *env) silent(b *browser) url.Values {
	e.t.Helper()
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid", "read:orders")
	resp, body := b.get(cfg.AuthCodeURL("quiet", oauth2.SetAuthURLParam("prompt", "none"),
		oauth2.SetAuthURLParam("audience", "https://orders.acme.test")))
	return callback(e.t, resp, body)
}

func TestSessionInactivitySlidesAndEnds(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	if _, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb"); err != nil {
		t.Fatal(err)
	}
	// Activity every 50 minutes keeps a 1h-idle session alive past 1h.
	for i := 0; i < 3; i++ {
		e.clock.Advance(50 * time.Minute)
		if cb := e.silent(b); cb.Get("code") == "" {
			t.Fatalf("prompt=none %d0m after activity: %v", 5*(i+1), cb)
		}
	}
	// No activity for the whole inactivity timeout: the session is over.
	e.clock.Advance(time.Hour)
	if cb := e.silent(b); cb.Get("error") != "login_required" || cb.Get("state") != "quiet" {
		t.Fatalf("after idle deadline: %v, want login_required", cb)
	}
	if started, idle := testutil.ToFloat64(e.srv.metrics.sessionsStart), testutil.ToFloat64(e.srv.metrics.sessionsEnd.WithLabelValues("Inactivity")); started != 1 || idle != 1 {
		t.Errorf("metrics: sessions started %v, ended by Inactivity %v; want 1 and 1", started, idle)
	}
}

func TestSessionAbsoluteDeadlineDespiteActivity(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	start := e.clock.Now()
	if _, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 9; i++ { // 7h30m of activity every 50 minutes
		e.clock.Advance(50 * time.Minute)
		if cb := e.silent(b); cb.Get("code") == "" {
			t.Fatalf("active session at %s: %v", e.clock.Now().Sub(start), cb)
		}
	}
	// 10 minutes before the absolute deadline: every token expires at it.
	e.clock.Advance(start.Add(7*time.Hour + 50*time.Minute).Sub(e.clock.Now()))
	cb := e.silent(b)
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb")
	tok, err := cfg.Exchange(e.ctx, cb.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := start.Add(8 * time.Hour).Unix()
	for name, raw := range map[string]string{"access": tok.AccessToken, "id": tok.Extra("id_token").(string)} {
		_, c := jwtParts(t, raw)
		if int64(c["exp"].(float64)) != deadline {
			t.Errorf("%s token issued 10m before the absolute deadline: exp = %v, want %d", name, c["exp"], deadline)
		}
	}
	if tok.Extra("expires_in").(float64) != 600 {
		t.Errorf("expires_in = %v, want 600", tok.Extra("expires_in"))
	}
	e.clock.Advance(10 * time.Minute)
	if cb := e.silent(b); cb.Get("error") != "login_required" {
		t.Fatalf("at the absolute deadline: %v, want login_required", cb)
	}
	if got := testutil.ToFloat64(e.srv.metrics.sessionsEnd.WithLabelValues("Absolute")); got != 1 {
		t.Errorf("sessions ended by Absolute = %v, want 1", got)
	}
}

func TestPromptLoginAndMaxAgeAskAgain(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	if _, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb"); err != nil {
		t.Fatal(err)
	}
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid")
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		resp, _ := b.get(cfg.AuthCodeURL("s", opt))
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != pathLogin {
			t.Errorf("%v: want the login page, got %d %s", opt, resp.StatusCode, resp.Request.URL)
		}
	}
	// Logging in again replaces the browser's session.
	_, page := b.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "login")))
	if r, body := b.login(page, "alice", "correct horse"); callback(t, r, body).Get("code") == "" {
		t.Fatalf("login again: %d", r.StatusCode)
	}
	if n := e.store.Len()[store.KindSession]; n != 1 {
		t.Errorf("%d sessions after logging in again, want 1", n)
	}
	if got := testutil.ToFloat64(e.srv.metrics.sessionsEnd.WithLabelValues("Relogin")); got != 1 {
		t.Errorf("sessions ended by Relogin = %v, want 1", got)
	}
	e.clock.Advance(2 * time.Minute)
	resp, body := b.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("max_age", "600")))
	if cb := callback(t, resp, body); cb.Get("code") == "" {
		t.Errorf("max_age=600 two minutes after login should not ask again: %v", cb)
	}
	resp, body = b.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("max_age", "60"), oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, resp, body); cb.Get("error") != "login_required" {
		t.Errorf("max_age=60 with prompt=none two minutes after login: %v", cb)
	}
}

func TestConfigSwapAppliesToNextTokenAndExistingSessions(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	if _, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb"); err != nil {
		t.Fatal(err)
	}
	cc := func() time.Duration {
		status, body := e.tokenPost(url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}, "m2m.shop", issuertest.Secrets["m2m.shop"])
		if status != http.StatusOK {
			t.Fatalf("client_credentials: %d %v", status, body)
		}
		return lifetimeOf(t, body["access_token"].(string))
	}
	if got := cc(); got != 3*time.Hour {
		t.Fatalf("before swap: %s", got)
	}
	e.clock.Advance(20 * time.Minute)
	next := issuertest.Doc(t, e.issuer)
	next.Generation = 2
	next.APIs[0].Spec.TokenLifetime = dur("2h")
	next.Tenant.Spec.Session.InactivityTimeout = dur("10m")
	if err := e.srv.Swap(next); err != nil {
		t.Fatal(err)
	}
	if got := cc(); got != 2*time.Hour {
		t.Errorf("after swap: access token lifetime %s, want the new 2h", got)
	}
	if status, ready := e.do(mustReq(http.NewRequest(http.MethodGet, e.issuer+PathReady, nil))); status != 200 || ready["generation"] != float64(2) {
		t.Errorf("ready = %d %v", status, ready)
	}
	// 20 minutes idle under the new 10m inactivity timeout: the existing
	// session is over.
	if cb := e.silent(b); cb.Get("error") != "login_required" {
		t.Errorf("shortened inactivity did not apply to the existing session: %v", cb)
	}
}

func TestSessionsSurviveConfigSwap(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	if _, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb"); err != nil {
		t.Fatal(err)
	}
	next := issuertest.Doc(t, e.issuer)
	next.Generation = 2
	if err := e.srv.Swap(next); err != nil {
		t.Fatal(err)
	}
	if cb := e.silent(b); cb.Get("code") == "" {
		t.Errorf("session lost across swap: %v", cb)
	}
	// A bad document is refused and the current generation keeps serving.
	bad := issuertest.Doc(t, e.issuer)
	bad.Generation = 3
	bad.Keys = []issuerconfig.Key{{ID: "x", Algorithm: "RS256", Role: issuerconfig.KeyActive, PrivateKeyPEM: "not a key"}}
	if err := e.srv.Swap(bad); err == nil {
		t.Error("a document with a broken key was accepted")
	}
	if e.srv.Generation() != 2 {
		t.Errorf("generation = %d after a refused swap", e.srv.Generation())
	}
}
