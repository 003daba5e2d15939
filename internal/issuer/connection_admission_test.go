package issuer

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestConnectionAdmits: allowedDomains admits verified addresses of its
// domains only (exactly, any case), and a Google account only with a
// matching hosted domain; allowedGroups admits members of one of its
// groups as the upstream names them.
func TestConnectionAdmits(t *testing.T) {
	corp := &connection{issuer: "https://id.corp.test", allowedDomains: []string{"corp.test"}}
	google := &connection{issuer: googleIssuer, allowedDomains: []string{"corp.test"}}
	groups := &connection{issuer: "https://id.corp.test", allowedGroups: []string{"finance"}, groupsPrefix: "corp:"}
	open := &connection{issuer: googleIssuer}
	for _, c := range []struct {
		name string
		conn *connection
		p    person
		want bool
	}{
		{"verified address of the domain", corp, person{Email: "al@corp.test", EmailVerified: true}, true},
		{"domain in another case", corp, person{Email: "al@CORP.Test", EmailVerified: true}, true},
		{"unverified address", corp, person{Email: "al@corp.test"}, false},
		{"subdomain", corp, person{Email: "al@eu.corp.test", EmailVerified: true}, false},
		{"suffix look-alike", corp, person{Email: "al@evilcorp.test", EmailVerified: true}, false},
		{"no address", corp, person{EmailVerified: true}, false},
		{"hosted domain of another", corp, person{Email: "al@corp.test", EmailVerified: true, HostedDomain: "evil.test"}, false},
		{"Google Workspace account", google, person{Email: "al@corp.test", EmailVerified: true, HostedDomain: "corp.test"}, true},
		{"Google consumer account with a look-alike address", google, person{Email: "al@corp.test", EmailVerified: true}, false},
		{"member", groups, person{Groups: []string{"corp:staff", "corp:finance"}}, true},
		{"not a member", groups, person{Groups: []string{"corp:staff"}}, false},
		{"no groups", groups, person{}, false},
		{"no restriction", open, person{Email: "anyone@gmail.com"}, true},
	} {
		if got := c.conn.admits(&c.p); got != c.want {
			t.Errorf("%s: admits = %v, want %v", c.name, got, c.want)
		}
	}
	if google.hostedDomainHint() != "corp.test" || corp.hostedDomainHint() != "" {
		t.Error("the hd hint is for Google connections with one domain")
	}
}

// TestConnectionAllowLists (security review N3): a connection admits only
// the users its allowedDomains and allowedGroups name; anyone else the
// upstream authenticates gets a 403 page and no session, counted as
// not_admitted. Narrowing the lists ends the sessions and refresh tokens
// they no longer admit at their next use.
func TestConnectionAllowLists(t *testing.T) {
	f := newFederation(t, func(c *v1alpha1.Connection) { c.OIDC.AllowedDomains = []string{"corp.test"} })
	cfg := f.downConfig("openid", "email", "groups")
	resp, body := f.signIn(t, cfg.AuthCodeURL("st"), "alice", "correct horse")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "may not sign in here") {
		t.Fatalf("alice@acme.test through a connection for corp.test: %d %s", resp.StatusCode, body)
	}
	if got := f.upstreamLogins("corp", upstreamNotAdmitted); got != 1 {
		t.Errorf("not_admitted logins = %v, want 1", got)
	}
	resp, body = f.get(t, cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if callback(t, resp, body).Get("error") != "login_required" {
		t.Fatal("a refused login left a session")
	}

	f = newFederation(t, func(c *v1alpha1.Connection) {
		c.OIDC.AllowedDomains = []string{"ACME.test"}
		c.OIDC.AllowedGroups = []string{"finance"}
	})
	cfg = f.downConfig("openid", "email", "groups", "offline_access")
	resp, body = f.signIn(t, cfg.AuthCodeURL("st"), "alice", "correct horse")
	tok, err := cfg.Exchange(f.down.ctx, callback(t, resp, body).Get("code"))
	if err != nil {
		t.Fatalf("alice (acme.test, finance) through a connection for both: %v", err)
	}
	f.down.doc.Tenant.Spec.Connections[0].OIDC.AllowedGroups = []string{"admins"}
	f.down.doc.Generation++
	if err := f.down.srv.Swap(f.down.doc); err != nil {
		t.Fatal(err)
	}
	resp, body = f.get(t, cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if callback(t, resp, body).Get("error") != "login_required" {
		t.Error("a session the narrowed allowedGroups no longer admit still signs in")
	}
	if status, body := f.down.refresh("web.shop", tok.RefreshToken); status != http.StatusBadRequest {
		t.Errorf("refresh after allowedGroups no longer admit the user: %d %v", status, body)
	}
}

// TestPendingLoginsPerBrowserAreBounded (security review N13): however
// often a browser starts a login through a connection (its user, or
// another site sending it there), it holds at most three pending-login
// cookies, the newest, so its requests stay under proxies' header limits.
func TestPendingLoginsPerBrowserAreBounded(t *testing.T) {
	f := newFederation(t, nil)
	cfg := f.downConfig("openid")
	f.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Hostname() != "127.0.0.1" {
			return http.ErrUseLastResponse // stop at the upstream
		}
		return nil
	}
	pending := func() (names []string) {
		for _, ck := range f.client.Jar.Cookies(mustURL(f.down.issuer + pathLoginCallback)) {
			if strings.HasPrefix(ck.Name, "idtenant_upstream_") {
				names = append(names, ck.Name)
			}
		}
		return names
	}
	var states []string
	for i := range 8 {
		resp, _ := f.get(t, cfg.AuthCodeURL(fmt.Sprint("app-", i)))
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Query().Get("state") == "" {
			t.Fatalf("login %d was not sent upstream: %d %s", i, resp.StatusCode, resp.Header.Get("Location"))
		}
		states = append(states, loc.Query().Get("state"))
		f.down.clock.Advance(time.Second)
	}
	got := pending()
	if len(got) != maxPendingLogins {
		t.Fatalf("pending-login cookies after 8 starts: %d (%v), want %d", len(got), got, maxPendingLogins)
	}
	for _, s := range states[len(states)-maxPendingLogins:] {
		if !slices.Contains(got, f.down.srv.cfg.Load().pendingCookieName(s)) {
			t.Errorf("the pending login of state %s, among the newest, was dropped", s[:8])
		}
	}
}

// TestConnectionMaxAge (security review N5): the upstream is asked only at
// login, so a connection's maxAge is the bound on how long a user it
// disabled keeps access: the session and even an offline refresh token
// end that long after the upstream login, and no token outlives it.
func TestConnectionMaxAge(t *testing.T) {
	f := newFederation(t, func(c *v1alpha1.Connection) { c.OIDC.MaxAge = dur("1h") })
	cfg := f.downConfig("openid", "offline_access")
	resp, body := f.signIn(t, cfg.AuthCodeURL("st"), "alice", "correct horse")
	tok, err := cfg.Exchange(f.down.ctx, callback(t, resp, body).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	signedIn := f.down.clock.Now()
	if _, c := jwtParts(t, tok.Extra("id_token").(string)); int64(c["exp"].(float64)) > signedIn.Add(time.Hour).Unix() {
		t.Errorf("ID token exp %v after the login's maxAge", c["exp"])
	}
	f.down.clock.Advance(59 * time.Minute)
	status, refreshed := f.down.refresh("web.shop", tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("offline refresh within maxAge: %d %v", status, refreshed)
	}
	if got := lifetimeOf(t, refreshed["access_token"].(string)); got > time.Minute {
		t.Errorf("an access token issued a minute before maxAge lives %s", got)
	}
	f.down.clock.Advance(2 * time.Minute)
	if status, body := f.down.refresh("web.shop", refreshed["refresh_token"].(string)); status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error_description"]), "maxAge") {
		t.Errorf("offline refresh after maxAge: %d %v", status, body)
	}
	resp, body = f.get(t, cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if callback(t, resp, body).Get("error") != "login_required" {
		t.Error("the session outlived its connection's maxAge")
	}
}

// TestDefaultGroupsPrefix (security review N6): a connection that names no
// groupsPrefix puts "<name>:" before its users' groups, so an upstream
// group never passes for a local one or another connection's; an explicit
// empty prefix releases the upstream's names as they are.
func TestDefaultGroupsPrefix(t *testing.T) {
	for _, c := range []struct {
		name   string
		claims *v1alpha1.ClaimMapping
		want   []any
	}{
		{"unset", nil, []any{"corp:staff", "corp:finance"}},
		{"explicitly empty", &v1alpha1.ClaimMapping{GroupsPrefix: new("")}, []any{"staff", "finance"}},
	} {
		f := newFederation(t, func(conn *v1alpha1.Connection) { conn.OIDC.Claims = c.claims })
		cfg := f.downConfig("openid", "groups")
		resp, body := f.signIn(t, cfg.AuthCodeURL("st"), "alice", "correct horse")
		tok, err := cfg.Exchange(f.down.ctx, callback(t, resp, body).Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		if _, claims := jwtParts(t, tok.Extra("id_token").(string)); !equalJSON(claims["groups"], c.want) {
			t.Errorf("groupsPrefix %s: groups %v, want %v", c.name, claims["groups"], c.want)
		}
	}
}
