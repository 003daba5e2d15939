package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestLoginThroughAConnection: a user of the upstream signs in to a
// downstream application through the connection (straight there: it is
// the only way in), gets the downstream's tokens (verified by go-oidc)
// with a subject of the downstream, the upstream subject in
// federated_claims, and prefixed groups in the ID token, userinfo and an
// API's access token. The downstream's own absolute timeout ends the
// session while the upstream's lives on, and removing the connection ends
// sessions and refresh tokens it started.
func TestLoginThroughAConnection(t *testing.T) {
	f := newFederation(t, nil)
	for i := range f.down.doc.APIs {
		f.down.doc.APIs[i].Spec.UserClaims = []v1alpha1.UserClaim{v1alpha1.UserClaimGroups, v1alpha1.UserClaimEmail}
	}
	f.down.doc.Generation++
	if err := f.down.srv.Swap(f.down.doc); err != nil {
		t.Fatal(err)
	}
	cfg := f.downConfig("openid", "email", "profile", "groups")
	resp, body := f.signIn(t, cfg.AuthCodeURL("st-1", oauth2.SetAuthURLParam("audience", "https://orders.acme.test")), "alice", "correct horse")
	cb := callback(t, resp, body)
	if cb.Get("state") != "st-1" || cb.Get("iss") != f.down.issuer {
		t.Fatalf("callback to the application: %v", cb)
	}
	tok, err := cfg.Exchange(f.down.ctx, cb.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := f.down.provider().Verifier(&gooidc.Config{ClientID: "web.shop", Now: f.down.clock.Now}).Verify(f.down.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	wantSub := upstreamSubject("corp", "7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00")
	want := map[string]any{
		"sub": wantSub, "email": "alice@acme.test", "email_verified": true, "name": "Alice Liddell",
		"preferred_username": "alice", "groups": []any{"corp:staff", "corp:finance"},
		"federated_claims": map[string]any{"connector_id": "corp", "user_id": "7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00"},
	}
	for k, v := range want {
		if !equalJSON(claims[k], v) {
			t.Errorf("ID token %s = %v, want %v", k, claims[k], v)
		}
	}
	access := f.down.verifyAccess(tok.AccessToken, "https://orders.acme.test")
	if !equalJSON(access["groups"], want["groups"]) || access["email"] != "alice@acme.test" || access["sub"] != wantSub {
		t.Errorf("API access token: groups %v, email %v, sub %v", access["groups"], access["email"], access["sub"])
	}
	// Security review N6: whether the address was verified travels with it.
	if access["email_verified"] != true {
		t.Errorf("API access token: email without email_verified (%v)", access["email_verified"])
	}
	// Userinfo, with a token for it.
	resp, body = f.signIn(t, cfg.AuthCodeURL("st-2"), "", "")
	tok2, err := cfg.Exchange(f.down.ctx, callback(t, resp, body).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.down.issuer+pathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+tok2.AccessToken)
	if _, info := f.down.do(req); !equalJSON(info["groups"], want["groups"]) || info["sub"] != wantSub || !equalJSON(info["federated_claims"], want["federated_claims"]) {
		t.Errorf("userinfo: %v", info)
	}
	if got := f.upstreamLogins("corp", upstreamSuccess); got != 1 {
		t.Errorf("successful upstream logins counted %v, want 1 (the second authorization used the session)", got)
	}

	// The downstream's 8h absolute timeout, while the upstream's session
	// (24h) is still alive: prompt=none at the downstream
	// says login_required; without prompt=none the user goes back to the
	// upstream, which signs them in without a password.
	f.down.clock.Advance(8*time.Hour + time.Second)
	f.up.clock.Advance(8*time.Hour + time.Second)
	resp, body = f.get(t, cfg.AuthCodeURL("st-3", oauth2.SetAuthURLParam("prompt", "none")))
	if got := callback(t, resp, body).Get("error"); got != "login_required" {
		t.Fatalf("after the downstream's absolute timeout, prompt=none: error %q, want login_required", got)
	}
	resp, body = f.signIn(t, cfg.AuthCodeURL("st-4", oauth2.AccessTypeOffline), "", "")
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("signing in again through the live upstream session: %d %s", resp.StatusCode, body)
	}

	// Removing the connection ends the session and its refresh tokens.
	offline, err := cfg.Exchange(f.down.ctx, callback(t, resp, body).Get("code"))
	if err != nil || offline.RefreshToken == "" {
		t.Fatalf("exchange: %v (refresh token %q)", err, offline.RefreshToken)
	}
	connections := f.down.doc.Tenant.Spec.Connections
	// ended checks, after the connections became c, that the session and
	// the refresh token no longer work.
	ended := func(when string, c []v1alpha1.Connection) {
		t.Helper()
		f.down.doc.Tenant.Spec.Connections = c
		f.down.doc.Generation++
		if err := f.down.srv.Swap(f.down.doc); err != nil {
			t.Fatal(err)
		}
		resp, body := f.get(t, cfg.AuthCodeURL("st-"+when, oauth2.SetAuthURLParam("prompt", "none")))
		if got := callback(t, resp, body).Get("error"); got != "login_required" {
			t.Errorf("after the connection %s, prompt=none: error %q, want login_required", when, got)
		}
		_, err := cfg.TokenSource(f.down.ctx, &oauth2.Token{RefreshToken: offline.RefreshToken}).Token()
		if oauthError(err) != "invalid_grant" {
			t.Errorf("refresh after the connection %s: %v, want invalid_grant", when, err)
		}
	}
	ended("was removed", nil)
	// Adding the connection back, unchanged, revives neither.
	ended("came back", connections)
	if got := testutil.ToFloat64(f.down.srv.metrics.sessionsEnd.WithLabelValues(string(sessionEndConnectionRemoved))); got != 1 {
		t.Errorf("sessions ended for a removed connection: %v, want 1", got)
	}
}

// TestUpstreamRefusalAndForcedLogin: an upstream that answers with an error
// (here: a scope it does not grant) ends on the error page with no session;
// prompt=login is passed upstream, where it asks for the password again.
func TestUpstreamRefusalAndForcedLogin(t *testing.T) {
	f := newFederation(t, func(c *v1alpha1.Connection) { c.OIDC.Scopes = append(c.OIDC.Scopes, "admin:everything") })
	cfg := f.downConfig("openid")
	resp, body := f.signIn(t, cfg.AuthCodeURL("st"), "alice", "correct horse")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Corp SSO did not sign you in (invalid_scope)") {
		t.Fatalf("upstream refusal: %d %s", resp.StatusCode, body)
	}
	if resp.Request.URL.Path != pathLoginCallback {
		t.Errorf("refusal shown at %s, want the downstream's callback", resp.Request.URL)
	}
	if f.upstreamLogins("corp", upstreamDenied) != 1 {
		t.Error("refusal not counted as denied")
	}
	resp, body = f.get(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")))
	if got := callback(t, resp, body).Get("error"); got != "login_required" {
		t.Errorf("after a refusal, prompt=none: %q, want login_required (no session)", got)
	}

	g := newFederation(t, nil)
	cfg = g.downConfig("openid")
	resp, body = g.signIn(t, cfg.AuthCodeURL("a"), "alice", "correct horse")
	callback(t, resp, body)
	// prompt=login: the upstream shows its password form again, although
	// its session is alive.
	resp, body = g.get(t, cfg.AuthCodeURL("b", oauth2.SetAuthURLParam("prompt", "login")))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) || resp.Request.URL.Host != mustURL(g.up.issuer).Host {
		t.Fatalf("prompt=login was not passed upstream: %d at %s", resp.StatusCode, resp.Request.URL)
	}
}

// TestUpstreamBadInput: a wrong upstream issuer, an ID token signed by a
// key the upstream does not publish, a nonce that is not ours, an expired
// ID token, a callback in another browser: each ends on an error page,
// counted, with no session.
func TestUpstreamBadInput(t *testing.T) {
	fake := newFakeUpstream(t)
	f := newFederation(t, func(c *v1alpha1.Connection) {
		c.OIDC.IssuerURL = fake.srv.URL
	})
	now := f.down.clock.Now()
	good := func(nonce string) map[string]any {
		return map[string]any{"iss": fake.srv.URL, "aud": "web.shop", "sub": "u1", "nonce": nonce,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "email": "u1@corp.test"}
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	cfg := f.downConfig("openid")
	// start follows the downstream to the upstream's authorization URL and
	// returns the state and nonce it carries.
	start := func(client *http.Client) (state string) {
		t.Helper()
		f.client = client
		resp, _ := f.get(t, cfg.AuthCodeURL("app-state"))
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.String(), fake.srv.URL+"/auth") {
			t.Fatalf("not sent to the upstream: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") != f.down.issuer+pathLoginCallback {
			t.Fatalf("upstream authorization request lacks PKCE, nonce or our redirect URI: %v", q)
		}
		fake.nonce = q.Get("nonce")
		return q.Get("state")
	}
	stopAtUpstream := func() *http.Client {
		c := newBrowserClient()
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), fake.srv.URL) || req.URL.Host == "web.acme.test" {
				return http.ErrUseLastResponse
			}
			return nil
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		idToken func(nonce string) string
		result  string
	}{
		{"signed by an unknown key", func(n string) string { return fake.sign(t, other, "k1", good(n)) }, upstreamBadToken},
		{"another nonce", func(string) string { return fake.sign(t, fake.key, "k1", good("not-ours")) }, upstreamBadToken},
		{"expired", func(n string) string {
			c := good(n)
			c["iat"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-30*time.Minute).Unix()
			return fake.sign(t, fake.key, "k1", c)
		}, upstreamBadToken},
		{"another audience", func(n string) string {
			c := good(n)
			c["aud"] = "someone-else"
			return fake.sign(t, fake.key, "k1", c)
		}, upstreamBadToken},
		{"no subject", func(n string) string {
			c := good(n)
			delete(c, "sub")
			return fake.sign(t, fake.key, "k1", c)
		}, upstreamBadToken},
		{"accepted", func(n string) string { return fake.sign(t, fake.key, "k1", good(n)) }, upstreamSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.idToken = tc.idToken
			state := start(stopAtUpstream())
			before := f.upstreamLogins("corp", tc.result)
			// Each case from its own address: failures from one address
			// slow its next callbacks down (tested below).
			resp, body := f.getFrom(t, f.down.issuer+pathLoginCallback+"?code=c&state="+url.QueryEscape(state), "198.51.100."+fmt.Sprint(len(tc.name)), nil)
			if f.upstreamLogins("corp", tc.result)-before != 1 {
				t.Errorf("result %s not counted", tc.result)
			}
			if tc.result == upstreamSuccess {
				if cb := callback(t, resp, body); cb.Get("code") == "" || cb.Get("state") != "app-state" {
					t.Errorf("a valid answer did not complete the application's request: %v", cb)
				}
				return
			}
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "could not be verified") {
				t.Errorf("%d %s", resp.StatusCode, body)
			}
			resp, body = f.get(t, cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
			if callback(t, resp, body).Get("error") != "login_required" {
				t.Error("a refused answer left a session")
			}
		})
	}

	// The callback in another browser (no pending-login cookie): refused,
	// although state and code are right.
	fake.idToken = func(n string) string { return fake.sign(t, fake.key, "k1", good(n)) }
	state := start(stopAtUpstream())
	f.client = newBrowserClient()
	resp, body := f.get(t, f.down.issuer+pathLoginCallback+"?code=c&state="+url.QueryEscape(state))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "started in another browser") {
		t.Errorf("callback without the browser's binding: %d %s", resp.StatusCode, body)
	}

	// A copied cookie replays the callback at most 10 times (each one a
	// request to the upstream with our client secret), from anywhere.
	state = start(stopAtUpstream())
	pending := f.client.Jar.Cookies(mustURL(f.down.issuer + pathLoginCallback))
	exchanges := 0
	fake.idToken = func(n string) string { exchanges++; return fake.sign(t, other, "k1", good(n)) }
	for i := range 11 {
		resp, body = f.getFrom(t, f.down.issuer+pathLoginCallback+"?code=c&state="+url.QueryEscape(state), fmt.Sprintf("203.0.113.%d", i), pending)
		if i == 10 && (resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many sign-in attempts")) {
			t.Errorf("the 11th replay of one callback: %d %s", resp.StatusCode, body)
		}
	}
	if exchanges != 10 {
		t.Errorf("replays reached the upstream's token endpoint %d times, want 10", exchanges)
	}
	if f.upstreamLogins("corp", upstreamThrottled) != 1 {
		t.Error("throttled callback not counted")
	}

	// Security review N4: bogus callbacks (a mix-up issuer, a code the
	// upstream refuses), each of its own pending login, from the address
	// everyone behind one NAT or proxy shares, slow no one else down: a
	// genuine callback from that address right after them signs in.
	fake.idToken = func(n string) string { return fake.sign(t, other, "k1", good(n)) }
	for i := range 16 {
		bogus := start(stopAtUpstream())
		extra := "&iss=" + url.QueryEscape("https://evil.test")
		if i%2 == 1 {
			extra = "" // reaches the upstream, whose answer fails verification
		}
		resp, body = f.get(t, f.down.issuer+pathLoginCallback+"?code=x&state="+url.QueryEscape(bogus)+extra)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode < 400 {
			t.Fatalf("bogus callback %d: %d %s", i, resp.StatusCode, body)
		}
	}
	fake.idToken = func(n string) string { return fake.sign(t, fake.key, "k1", good(n)) }
	state = start(stopAtUpstream())
	resp, body = f.get(t, f.down.issuer+pathLoginCallback+"?code=c&state="+url.QueryEscape(state))
	if cb := callback(t, resp, body); cb.Get("code") == "" {
		t.Errorf("a genuine callback after others' bogus ones from the same address: %d %s", resp.StatusCode, body)
	}

	// A connection whose issuer URL is not the one the upstream states.
	wrong := newFederation(t, func(c *v1alpha1.Connection) {
		c.OIDC.IssuerURL = strings.Replace(fake.srv.URL, "127.0.0.1", "localhost", 1)
	})
	resp, body = wrong.get(t, wrong.downConfig("openid").AuthCodeURL("s"))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "Corp SSO cannot be reached") {
		t.Errorf("wrong upstream issuer: %d %s", resp.StatusCode, body)
	}
	if wrong.upstreamLogins("corp", upstreamUnreachable) != 1 {
		t.Error("wrong issuer not counted as unreachable")
	}
}

// TestMapUpstreamClaims: the claim mapping reads what providers actually
// send (groups as a list or one string, email_verified as a string),
// prefixes groups and bounds them, falls back to a verified email as username,
// and refuses a missing subject or, when required, an unverified email.
func TestMapUpstreamClaims(t *testing.T) {
	conn := &connection{name: "corp", claims: v1alpha1.ClaimMapping{Subject: "oid", Username: "preferred_username",
		Email: "email", Name: "name", Groups: "roles"}, groupsPrefix: "corp:"}
	many := make([]any, 70)
	for i := range many {
		many[i] = fmt.Sprintf("g%d", i)
	}
	for _, tc := range []struct {
		name     string
		claims   map[string]any
		verified bool // connection requires a verified email
		want     *person
		err      string
	}{
		{"list of groups", map[string]any{"oid": "o1", "email": "a@corp.test", "email_verified": true, "roles": []any{"admins", 7, "", "ops"}},
			false, &person{Connection: "corp", UpstreamSubject: "o1", Username: "a@corp.test", Email: "a@corp.test", EmailVerified: true, Groups: []string{"corp:admins", "corp:ops"}}, ""},
		{"one group as a string, verified as a string", map[string]any{"oid": "o1", "preferred_username": "al", "name": "Al", "email": "a@corp.test", "email_verified": "true", "roles": "admins"},
			true, &person{Connection: "corp", UpstreamSubject: "o1", Username: "al", Name: "Al", Email: "a@corp.test", EmailVerified: true, Groups: []string{"corp:admins"}}, ""},
		{"no subject claim", map[string]any{"sub": "s1", "email": "a@corp.test"}, false, nil, `no string claim "oid"`},
		{"unverified email refused", map[string]any{"oid": "o1", "email": "a@corp.test"}, true, nil, errNotVerified.Error()},
		// Security review N6: an unverified address is passed on as such
		// (email_verified false), never as the username.
		{"unverified email passed on, not as the username", map[string]any{"oid": "o1", "email": "a@corp.test", "email_verified": false}, false,
			&person{Connection: "corp", UpstreamSubject: "o1", Email: "a@corp.test"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn.requireVerified = tc.verified
			got, err := mapUpstreamClaims(conn, tc.claims)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	got, err := mapUpstreamClaims(conn, map[string]any{"oid": "o1", "roles": append(many, strings.Repeat("x", 129))})
	if err != nil || len(got.Groups) != maxUpstreamGroups || got.Groups[63] != "corp:g63" {
		t.Errorf("70 groups: kept %d (%v), want the first %d", len(got.Groups), err, maxUpstreamGroups)
	}
}
