package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestOneSessionHoldsOneFamilyPerApplication (security review N1): one
// signed-in user redoing the code flow 300 times leaves one refresh family
// for the application, not 300. The grant a new exchange replaced is
// refused when its holder presents it, without revoking the new one.
func TestOneSessionHoldsOneFamilyPerApplication(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	web, secret := "web.shop", issuertest.Secrets["web.shop"]
	var refresh []string
	for i := range 300 {
		code, verifier := e.codeFor(b, web, webCB, "openid", "read:orders")
		status, tok := e.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
		if status != http.StatusOK || tok["refresh_token"] == nil {
			t.Fatalf("exchange %d: %d %v", i, status, tok)
		}
		refresh = append(refresh, tok["refresh_token"].(string))
		e.clock.Advance(time.Second) // within the session's 60 codes a minute
	}
	if got := e.store.Len(); got[store.KindFamily] != 1 || got[store.KindSession] != 1 {
		t.Fatalf("records after 1 login and 300 exchanges: %v, want 1 session and 1 family", got)
	}
	status, body := e.refresh(web, refresh[298])
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" || !strings.Contains(body["error_description"].(string), "replaced") {
		t.Fatalf("the replaced grant's token: %d %v, want invalid_grant saying it was replaced", status, body)
	}
	if status, body := e.refresh(web, refresh[299]); status != http.StatusOK {
		t.Fatalf("the newest grant after its predecessor's token came back: %d %v, want it still working", status, body)
	}
}

// TestOfflineGrantsAreBoundedPerUser (security review N1): offline
// families, which outlive sessions, are bounded per user and application
// by offlineGrantsPerUser; the least recently used one is replaced.
func TestOfflineGrantsAreBoundedPerUser(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) {
		for i := range d.Applications {
			if d.Applications[i].ClientID == "web.shop" {
				d.Applications[i].Spec.RefreshToken.OfflineGrantsPerUser = new(int32(3))
			}
		}
	})
	var tokens []string
	for range 5 { // five devices
		tokens = append(tokens, e.offlineLogin(e.browser()).RefreshToken)
		e.clock.Advance(time.Minute)
	}
	if got := e.store.Len()[store.KindFamily]; got != 3 {
		t.Fatalf("offline families after 5 grants with offlineGrantsPerUser 3: %d", got)
	}
	for i, want := range []int{http.StatusBadRequest, http.StatusBadRequest, http.StatusOK, http.StatusOK, http.StatusOK} {
		if status, body := e.refresh("web.shop", tokens[i]); status != want {
			t.Errorf("grant %d of 5: %d %v, want %d (the two least recently used were replaced)", i+1, status, body, want)
		}
	}
}

// TestSessionBoundFamiliesEndWithTheirSession (security review N1): a
// family bound to a session is collected at the session's absolute
// deadline, not kept to the refresh token's absolute lifetime (72h here).
func TestSessionBoundFamiliesEndWithTheirSession(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) {
		d.Tenant.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: issuertest.Dur("8h"), AbsoluteTimeout: issuertest.Dur("8h")}
	})
	tok, err := e.loginFlow(e.browser(), "web.shop", webCB)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(4 * time.Hour)
	if status, body := e.refresh("web.shop", tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh within the session: %d %v", status, body)
	}
	e.clock.Advance(4 * time.Hour)
	e.srv.Collect()
	if got := e.store.Len(); got[store.KindFamily] != 0 || got[store.KindSession] != 0 {
		t.Fatalf("records at the session's absolute deadline: %v, want none", got)
	}
}

// TestEndingASessionDeletesItsFamilies (security review N1): logging out
// deletes the session's refresh families at once, and signing in again
// in the same browser (prompt=login) deletes the previous session's, so
// repeated logins leave one family per application, not one per login.
func TestEndingASessionDeletesItsFamilies(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	var tok *oauth2.Token
	var err error
	for range 20 {
		tok, err = e.loginFlow(b, "web.shop", webCB, oauth2.SetAuthURLParam("prompt", "login"))
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.store.Len(); got[store.KindFamily] != 1 || got[store.KindSession] != 1 {
		t.Fatalf("records after 20 logins in one browser: %v, want 1 session and 1 family", got)
	}
	e.logout(b, tok.Extra("id_token").(string))
	if got := e.store.Len(); got[store.KindFamily] != 0 || got[store.KindSession] != 0 {
		t.Fatalf("records after logout: %v, want none", got)
	}
}

// TestLargeIdentitiesOpen (security review N11): an upstream user whose
// attributes seal to between 8 and 12 KiB (64 long group names) was
// accepted at login but could never be read back, so every login of that
// user failed; what login accepts, a session now opens.
func TestLargeIdentitiesOpen(t *testing.T) {
	e := newEnv(t, nil)
	c := e.srv.cfg.Load()
	p := &person{Connection: "corp", UpstreamSubject: "u1", Email: "u1@corp.test"}
	for i := range 64 {
		p.Groups = append(p.Groups, fmt.Sprintf("corp:%03d-%s", i, strings.Repeat("g", 100)))
	}
	sealed, err := c.sealIdentity(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) <= maxSealed || len(sealed) > maxSealedIdentity {
		t.Fatalf("sealed identity of %d bytes: the case needs one between %d and %d", len(sealed), maxSealed, maxSealedIdentity)
	}
	var back person
	if err := c.unsealJSON(purposeIdentity, sealed, &back); err != nil || len(back.Groups) != 64 {
		t.Fatalf("a %d-byte identity login accepted does not open: %v", len(sealed), err)
	}
}

// TestReplacedGrantsNeverRevokeTheCurrentOne (independent review of the
// slots): a family slot is taken over by later grants, and nothing of an
// earlier grant reaches the current one — not its tokens (however old),
// not a token forged under the slot's id, not a replay of its code.
func TestReplacedGrantsNeverRevokeTheCurrentOne(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	web, secret := "web.shop", issuertest.Secrets["web.shop"]
	var codes, verifiers, refresh []string
	for range 3 {
		code, verifier := e.codeFor(b, web, webCB, "openid", "read:orders")
		_, tok := e.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
		codes, verifiers, refresh = append(codes, code), append(verifiers, verifier), append(refresh, tok["refresh_token"].(string))
		e.clock.Advance(5 * time.Second)
	}
	for i, rt := range refresh[:2] {
		if status, body := e.refresh(web, rt); status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error_description"]), "replaced") {
			t.Errorf("grant %d's token after two later grants: %d %v", i+1, status, body)
		}
	}
	id, _, _ := strings.Cut(refresh[2], ".")
	for _, forged := range []string{id + "." + strings.Repeat("A", 43), id + "." + strings.Repeat("B", 22) + "~" + strings.Repeat("A", 43)} {
		if status, _ := e.refresh(web, forged); status != http.StatusBadRequest {
			t.Errorf("a token forged under the slot's id: %d", status)
		}
	}
	if status, _ := e.postForm(PathToken, redeemForm(codes[0], verifiers[0], webCB), web, secret); status != http.StatusBadRequest {
		t.Errorf("a replay of the first grant's code: %d", status)
	}
	if status, body := e.refresh(web, refresh[2]); status != http.StatusOK {
		t.Fatalf("the current grant after old tokens, forged ones and an old code's replay: %d %v", status, body)
	}
}

// TestCodeReplayInTheSameSecondLeavesNoToken (independent review of the
// slots): a replay that revokes a redemption still writing its family
// wins even when it happens in the same second, as the Kubernetes store
// keeps time, or on a replica whose clock is behind: the redemption's
// write is refused by the grant's identity, not by comparing times.
func TestCodeReplayInTheSameSecondLeavesNoToken(t *testing.T) {
	e := newEnv(t, nil)
	c := e.srv.cfg.Load()
	web, secret := "web.shop", issuertest.Secrets["web.shop"]
	code, verifier := e.codeFor(e.browser(), web, webCB, "openid", "read:orders")
	rec, err := e.store.Codes().Get(context.Background(), c.key(store.KindCode, code))
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := e.store.Sessions().Get(context.Background(), rec.Value.SessionKey)
	ls := &liveSession{key: sess.Key, Session: sess.Value, version: sess.Version}
	g := &grant{client: c.clients[web], subject: "alice", scopes: []string{"openid"}}
	e.clock.Advance(300 * time.Millisecond)
	redeemedAt := e.clock.Now().Add(500 * time.Millisecond) // replica A's clock is ahead
	familyID, err := e.srv.familySlot(context.Background(), c, g, ls, redeemedAt)
	if err != nil {
		t.Fatal(err)
	}
	grantID := randomID()
	rec.Value.RedeemedAt, rec.Value.Family = redeemedAt, familyID+"."+grantID
	if _, err := e.store.Codes().Update(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret); status != http.StatusBadRequest {
		t.Fatalf("the replay: %d", status)
	}
	fam, _ := e.store.Families().Get(context.Background(), c.key(store.KindFamily, familyID))
	fam.Value.RevokedAt = fam.Value.RevokedAt.Truncate(time.Second) // what the Kubernetes store keeps
	if _, err := e.store.Families().Update(context.Background(), fam); err != nil {
		t.Fatal(err)
	}
	if raw, err := e.srv.startFamily(context.Background(), c, g, ls, familyID, grantID, redeemedAt); !errors.Is(err, errCodeInvalid) {
		t.Errorf("the first redemption's family after a replay in the same second: %v (token %v), want refused", err, raw != "")
	}
}

// TestBudgetsPerSessionAndClient (independent review of the state quota):
// the quota is the namespace's, shared by the Tenant's users, so one
// session may not take all the codes, nor one client all the revocation
// records: beyond 60 codes a minute a session's sign-ins get
// temporarily_unavailable, beyond 100 revocations a minute a client's get
// 503, and others are not affected.
func TestBudgetsPerSessionAndClient(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	e.codeFor(b, "web.shop", webCB, "openid") // signs in
	for i := range codesPerSessionPerMinute - 1 {
		resp, body := b.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")))
		if cb := callback(t, resp, body); cb.Get("code") == "" {
			t.Fatalf("code %d of %d: %v", i+2, codesPerSessionPerMinute, cb)
		}
	}
	resp, body := b.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, resp, body); cb.Get("error") != "temporarily_unavailable" {
		t.Errorf("code %d in a minute: %v, want temporarily_unavailable", codesPerSessionPerMinute+1, cb)
	}
	if _, err := e.loginFlow(e.browser(), "web.shop", webCB); err != nil {
		t.Errorf("another browser's sign-in: %v", err)
	}
	e.clock.Advance(time.Minute)
	resp, body = b.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, resp, body); cb.Get("code") == "" {
		t.Errorf("the next minute: %v", cb)
	}

	m2m, secret := "m2m.shop", issuertest.Secrets["m2m.shop"]
	revoke := func() int {
		_, tok := e.tokenPost(url.Values{"grant_type": {"client_credentials"}, "resource": {"https://orders.acme.test"}}, m2m, secret)
		status, _ := e.form(pathRevoke, url.Values{"token": {tok["access_token"].(string)}}, m2m, secret)
		return status
	}
	for i := range revocationsPerClientPerMinute {
		if status := revoke(); status != http.StatusOK {
			t.Fatalf("revocation %d: %d", i+1, status)
		}
	}
	if status := revoke(); status != http.StatusServiceUnavailable {
		t.Errorf("revocation %d in a minute: %d, want 503", revocationsPerClientPerMinute+1, status)
	}
	if got := e.store.Len()[store.KindRevocation]; got != revocationsPerClientPerMinute {
		t.Errorf("revocation records: %d, want %d", got, revocationsPerClientPerMinute)
	}
}
