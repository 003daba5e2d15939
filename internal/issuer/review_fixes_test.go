package issuer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	limiter "github.com/idtenant/idtenant/internal/issuer/limiter"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestStaleReplicaDoesNotDestroyState: a replica that has not loaded the
// generation with alice's new password refuses her new session and family
// but destroys neither; once it catches up they work there too.
func TestStaleReplicaDoesNotDestroyState(t *testing.T) {
	a := newEnv(t, nil)
	stale := a.replica() // keeps the old document
	newDoc := *a.doc
	newDoc.Users = []issuerconfig.User{{Username: "alice"}}
	newDoc.Users[0].PasswordHash = string(mustHash(t, "new horse"))
	newDoc.Generation++
	if err := a.srv.Swap(&newDoc); err != nil {
		t.Fatal(err)
	}
	web, secret := "web.shop", issuertest.Secrets["web.shop"]
	b := a.browser()
	cfg := a.oauth2Config(web, webCB, "openid")
	resp, body := b.authorize(cfg.AuthCodeURL("s"), "alice", "new horse")
	cb := callback(t, resp, body)
	code := cb.Get("code")
	if code == "" {
		t.Fatalf("login with the new password: %v", cb)
	}
	status, tok := a.postForm(PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webCB}}, web, secret)
	if status != http.StatusOK {
		t.Fatalf("exchange at the current replica: %d %v", status, tok)
	}
	rt := tok["refresh_token"].(string)
	if status, _ := stale.postForm(PathToken, refreshForm(rt), web, secret); status != http.StatusBadRequest {
		t.Fatalf("refresh at the stale replica: %d, want refused", status)
	}
	if err := stale.srv.Swap(&newDoc); err != nil {
		t.Fatal(err)
	}
	if status, body := stale.postForm(PathToken, refreshForm(rt), web, secret); status != http.StatusOK {
		t.Errorf("refresh once the replica caught up: %d %v (the stale replica destroyed the family)", status, body)
	}
	if n := a.store.Len()[store.KindSession]; n != 1 {
		t.Errorf("sessions: %d, want alice's still there", n)
	}
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// TestCodeReplayDuringRedemptionRevokes: a replay arriving while the first
// redemption is between marking the code and creating its family leaves a
// revoked placeholder, so that redemption fails instead of handing out a
// live refresh token.
func TestCodeReplayDuringRedemptionRevokes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.srv.cfg.Load()
	web, secret := "web.shop", issuertest.Secrets["web.shop"]
	code, verifier := e.codeFor(e.browser(), web, webCB, "openid", "read:orders")
	// Replica A marks the code redeemed and is about to create family F.
	key := c.key(store.KindCode, code)
	rec, err := e.store.Codes().Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	familyID, grantID := c.newSecret(store.KindFamily), randomID()
	rec.Value.RedeemedAt, rec.Value.Family, rec.Value.AccessJTI, rec.Value.AccessExp = e.clock.Now(), familyID+"."+grantID, "jti-a", e.clock.Now().Add(time.Hour)
	if _, err := e.store.Codes().Update(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	// The same client replays the code at replica B.
	if status, body := e.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret); status != http.StatusBadRequest {
		t.Fatalf("replay: %d %v", status, body)
	}
	// A now creates F: refused.
	g := &grant{client: c.clients[web], subject: "alice", scopes: []string{"openid"}}
	sess, _ := e.store.Sessions().Get(context.Background(), rec.Value.SessionKey)
	if _, err := e.srv.startFamily(context.Background(), c, g, &liveSession{key: sess.Key, Session: sess.Value}, familyID, grantID, e.clock.Now()); !errors.Is(err, errCodeInvalid) {
		t.Errorf("family create after the replay: %v, want it refused", err)
	}
	if _, err := e.store.Revocations().Get(context.Background(), c.key(store.KindRevocation, "jti-a")); err != nil {
		t.Errorf("the first redemption's access token is not revoked: %v", err)
	}
}

// TestForgedSecretsCostNoStoreRead: cookies, codes and refresh tokens the
// issuer did not make fail their tag before any store read.
func TestForgedSecretsCostNoStoreRead(t *testing.T) {
	var cs *probeStore
	e := newEnvOver(t, nil, func(mem *memory.Store) store.Store { cs = &probeStore{Store: mem}; return cs })
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	for range 50 {
		req, _ := http.NewRequest(http.MethodGet, cfg.AuthCodeURL("s"), nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: randomToken() + "~" + randomID()[:11]})
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		e.postForm(PathToken, redeemForm(randomToken()+"~"+randomID()[:11], "v", webCB), "web.shop", issuertest.Secrets["web.shop"])
		e.postForm(PathToken, refreshForm(randomID()+"~abc."+randomToken()), "web.shop", issuertest.Secrets["web.shop"])

	}
	if n := cs.reads.Load(); n != 0 {
		t.Errorf("forged secrets caused %d store reads, want 0", n)
	}
}

func mustHash(t *testing.T, password string) []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestReuseIntervalSurvivesSecondPrecision: state keeps whole seconds, so
// a rotation at x.9 s is recorded at x s; a retry 1.1 s later is within a
// 2 s reuseInterval and must be honoured, not taken as theft.
func TestReuseIntervalSurvivesSecondPrecision(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) {
		for i := range d.Applications {
			if d.Applications[i].ClientID == "web.shop" {
				d.Applications[i].Spec.RefreshToken.ReuseInterval = dur("2s")
			}
		}
	})
	tok, err := e.loginFlow(e.browser(), "web.shop", webCB)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(900 * time.Millisecond)
	if status, body := e.refresh("web.shop", tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("first refresh: %d %v", status, body)
	}
	e.clock.Advance(1100 * time.Millisecond)
	if status, body := e.refresh("web.shop", tok.RefreshToken); status != http.StatusOK {
		t.Errorf("retry 1.1 s after the rotation with a 2 s reuseInterval: %d %v", status, body)
	}
}

// TestStateKeyCannotChange: a generation that changes or drops the state
// key is refused; the running one stays in force.
func TestStateKeyCannotChange(t *testing.T) {
	e := newEnv(t, nil)
	for name, key := range map[string][]byte{"changed": []byte("fedcba9876543210fedcba9876543210"), "dropped": nil} {
		doc := *e.doc
		doc.Generation++
		doc.StateKey = key
		if err := e.srv.Swap(&doc); err == nil || !strings.Contains(err.Error(), "state key") {
			t.Errorf("%s state key: %v, want refused", name, err)
		}
	}
	if e.srv.Generation() != e.doc.Generation {
		t.Errorf("generation %d in force, want %d", e.srv.Generation(), e.doc.Generation)
	}
}

// TestClientAddress (security review N2): forwarding headers count only
// from a configured trusted proxy, and then the client is the rightmost
// hop that is not a trusted proxy, private or not; without trusted
// proxies every header is the client's own and ignored. IPv6 counts per
// /64.
func TestClientAddress(t *testing.T) {
	none := trustedProxies(nil)
	ingress, err := compileTrustedProxies([]string{"10.0.0.0/24", "127.0.0.1", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		trusted   trustedProxies
		peer, xff string
		forwarded string
		want      string
	}{
		{"direct public client", none, "203.0.113.9:4000", "198.51.100.1", "", "203.0.113.9"},
		{"private client choosing a public address", none, "10.0.0.5:4000", "198.51.100.66", "", "10.0.0.5"},
		{"pod posing as another client", none, "10.244.1.7:5000", "203.0.113.77", "", "10.244.1.7"},
		{"loopback peer without trusted proxies", none, "127.0.0.1:5000", "203.0.113.77", "", "127.0.0.1"},
		{"untrusted peer with a trusted set", ingress, "10.9.0.5:4000", "198.51.100.66", "", "10.9.0.5"},
		{"trusted proxy, no header", ingress, "10.0.0.5:4000", "", "", "10.0.0.5"},
		{"trusted proxy appends the client", ingress, "10.0.0.5:4000", "198.51.100.7", "", "198.51.100.7"},
		{"prepended entries ignored", ingress, "10.0.0.5:4000", "1.2.3.4, 198.51.100.7", "", "198.51.100.7"},
		{"a private client is a real client", ingress, "10.0.0.5:4000", "198.51.100.66, 10.20.30.40", "", "10.20.30.40"},
		{"attacker posing as the victim's address", ingress, "10.0.0.5:4000", "10.20.30.40, 10.20.30.66", "", "10.20.30.66"},
		{"two trusted proxies", ingress, "10.0.0.5:4000", "198.51.100.7, 10.0.0.9", "", "198.51.100.7"},
		{"garbage left of the client", ingress, "10.0.0.5:4000", "garbage, 198.51.100.7", "", "198.51.100.7"},
		{"client port appended", ingress, "10.0.0.5:4000", "198.51.100.7:5555", "", "198.51.100.7"},
		{"IPv6 client per /64", ingress, "127.0.0.1:4000", "2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"},
		{"IPv6 peer per /64", none, "[2001:db8:1:2::9]:4000", "", "", "2001:db8:1:2::/64"},
		{"trusted IPv6 proxy", ingress, "[2001:db8:ffff::1]:4000", "198.51.100.8", "", "198.51.100.8"},
		{"Forwarded header", ingress, "10.0.0.5:4000", "", `for=1.2.3.4, for="[2001:db8:1:2::7]:4711";proto=https`, "2001:db8:1:2::/64"},
		{"Forwarded from an untrusted peer", none, "10.0.0.5:4000", "", "for=198.51.100.9", "10.0.0.5"},
		// Independent review: a proxy writes one kind; with both, one is the
		// client's, so neither decides.
		{"both headers: the peer", ingress, "10.0.0.5:4000", "198.51.100.7", "for=198.51.100.9", "10.0.0.5"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.forwarded != "" {
			r.Header.Set("Forwarded", c.forwarded)
		}
		if got := c.trusted.clientAddress(r); got != c.want {
			t.Errorf("%s: peer %s XFF %q: %q, want %q", c.name, c.peer, c.xff, got, c.want)
		}
	}
	if _, err := compileTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR compiled")
	}
}

// TestLimiterForgets: a typo a month after an attack meets no delay.
func TestLimiterForgets(t *testing.T) {
	l := limiter.NewLoginLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 60 {
		l.Fail("u", "10.0.0.1", t0)
	}
	later := t0.Add(30 * 24 * time.Hour)
	l.Fail("alice", "10.0.0.1", later)
	if v := l.Admit("alice", "10.0.0.1", "r", later); v.Wait != 0 {
		t.Errorf("a month after 60 failures, one typo: wait %s", v.Wait)
	}
}

// TestLogoutHintOfAnotherUserAsks: an ID token of another user (anyone
// can hold one) does not end this browser's session unasked.
func TestLogoutHintOfAnotherUserAsks(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) {
		d.Users = append(d.Users, issuerconfig.User{Username: "bob", PasswordHash: d.Users[0].PasswordHash})
	})
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	bob := e.browser()
	resp, body := bob.authorize(cfg.AuthCodeURL("s"), "bob", "correct horse")
	bobTok, err := cfg.Exchange(e.ctx, callback(t, resp, body).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	alice := e.browser()
	if _, err := e.loginFlow(alice, "web.shop", webCB); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"id_token_hint": {bobTok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"https://web.acme.test/bye"}}
	resp, page := alice.get(e.issuer + pathEndSession + "?" + q.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign out?") {
		t.Errorf("another user's hint: %d, want the confirmation page", resp.StatusCode)
	}
	if cb := e.silent(alice); cb.Get("code") == "" {
		t.Errorf("alice's session ended on bob's hint: %v", cb)
	}
}

// TestIssKeepsFragmentState: iss is appended without re-encoding the
// response, so a state with '+', '/', '=', '&' or '%' comes back intact.
func TestIssKeepsFragmentState(t *testing.T) {
	for _, loc := range []string{
		"https://web.acme.test/cb#access_token=x&state=ab%2Bcd%2Fef%3D%3D",
		"https://web.acme.test/cb?code=c&state=x%26y%3Dz",
		"https://web.acme.test/cb?code=c&state=%25",
	} {
		got := withIssParam(loc, "https://id.acme.test")
		if !strings.HasPrefix(got, loc+"&iss=") {
			t.Errorf("%s -> %s", loc, got)
		}
	}
	if got := withIssParam("https://a.test/cb?iss=x", "https://id"); got != "https://a.test/cb?iss=x" {
		t.Errorf("iss added twice: %s", got)
	}
}
