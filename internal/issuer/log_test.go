package issuer

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsHoldNoSecrets runs logins (failed and good), every grant, a
// refresh reuse, errors and a logout with the issuer's logger and the
// library's (slog default) both captured, and looks for every secret that
// went over the wire.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf syncBuffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	prev := slog.Default()
	slog.SetDefault(slog.New(h))
	defer slog.SetDefault(prev)
	e := newEnv(t, nil)
	e.srv.log = slog.New(h)

	b := e.browser()
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid")
	_, page := b.get(cfg.AuthCodeURL("s"))
	b.login(page, "alice", "hunter2-wrong")
	tok, err := e.loginFlow(b, "web.shop", "https://web.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	_, refreshed := e.refresh("web.shop", tok.RefreshToken)
	e.clock.Advance(20 * time.Second)       // past reuseInterval
	e.refresh("web.shop", tok.RefreshToken) // reuse: family revoked, logged
	_, cc := e.tokenPost(url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}, "m2m.shop", issuertest.Secrets["m2m.shop"])
	e.tokenPost(url.Values{"grant_type": {"client_credentials"}}, "m2m.shop", "wrong-secret-value")
	e.form(pathIntrospect, url.Values{"token": {tok.AccessToken}}, "web.shop", issuertest.Secrets["web.shop"])
	e.logout(b, tok.Extra("id_token").(string))
	e.srv.Collect()

	var cookie string
	for _, c := range b.client.Jar.Cookies(mustURL(e.issuer)) {
		if c.Name == sessionCookie {
			cookie = c.Value
		}
	}
	logs := buf.String()
	if testing.Verbose() {
		t.Log(logs)
	}
	if !strings.Contains(logs, "session started") || !strings.Contains(logs, "reuse detected") {
		t.Fatalf("expected events missing from the logs:\n%s", logs)
	}
	secrets := map[string]string{
		"password":         "correct horse",
		"wrong password":   "hunter2-wrong",
		"client secret":    issuertest.Secrets["web.shop"],
		"m2m secret":       issuertest.Secrets["m2m.shop"],
		"wrong secret":     "wrong-secret-value",
		"access token":     tok.AccessToken,
		"refresh token":    tok.RefreshToken,
		"rotated refresh":  refreshed["refresh_token"].(string),
		"ID token":         tok.Extra("id_token").(string),
		"m2m access token": cc["access_token"].(string),
		"signing key":      "PRIVATE KEY",
		"session cookie":   cookie,
		"password hash":    string(issuertest.PasswordHash),
	}
	for name, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs contain the %s", name)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
