package issuer

import (
	"fmt"
	"net/http"
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
