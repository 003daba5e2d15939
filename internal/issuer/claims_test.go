package issuer

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

func directoryDoc(d *issuerconfig.Document) {
	d.Users[0].ID = "7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00"
	d.Users[0].Email, d.Users[0].EmailVerified = "alice@acme.test", true
	d.Users[0].Name, d.Users[0].Groups = "Alice Liddell", []string{"staff", "finance"}
}

// TestStandardClaims: the subject is the user's opaque id, and the email,
// profile and groups scopes release the matching claims in the ID token
// (verified by go-oidc) and at userinfo; without the scopes, nothing.
func TestStandardClaims(t *testing.T) {
	e := newEnv(t, directoryDoc)
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/openid-configuration", nil)
	_, meta := e.do(req)
	for _, s := range []string{"email", "profile", "groups"} {
		if !slices.Contains(meta["scopes_supported"].([]any), any(s)) {
			t.Errorf("discovery lacks scope %s", s)
		}
	}
	for _, c := range []string{"email", "email_verified", "name", "groups", "preferred_username"} {
		if !slices.Contains(meta["claims_supported"].([]any), any(c)) {
			t.Errorf("discovery lacks claim %s", c)
		}
	}

	for _, tc := range []struct {
		scopes []string
		want   map[string]any
		absent []string
	}{
		{[]string{"openid", "email", "profile", "groups"}, map[string]any{
			"sub": "7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00", "email": "alice@acme.test", "email_verified": true,
			"name": "Alice Liddell", "preferred_username": "alice", "groups": []any{"staff", "finance"}}, nil},
		{[]string{"openid"}, map[string]any{"sub": "7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00"},
			[]string{"email", "email_verified", "name", "preferred_username", "groups"}},
	} {
		cfg := e.oauth2Config("web.shop", webCB, tc.scopes...)
		resp, body := e.browser().authorize(cfg.AuthCodeURL("s"), "alice", "correct horse")
		tok, err := cfg.Exchange(e.ctx, callback(t, resp, body).Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := e.provider().Verifier(&gooidc.Config{ClientID: "web.shop", Now: e.clock.Now}).Verify(e.ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		_ = idt.Claims(&claims)
		req, _ := http.NewRequest(http.MethodGet, e.issuer+pathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		_, info := e.do(req)
		for where, got := range map[string]map[string]any{"ID token": claims, "userinfo": info} {
			for k, v := range tc.want {
				if !equalJSON(got[k], v) {
					t.Errorf("scopes %v, %s: %s = %v, want %v", tc.scopes, where, k, got[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("scopes %v, %s: %s released without its scope", tc.scopes, where, k)
				}
			}
		}
	}
}

// TestChangedAttributesReachTheNextToken: a new email in the directory is
// in the next ID token of the same session, without logging in again.
func TestChangedAttributesReachTheNextToken(t *testing.T) {
	e := newEnv(t, directoryDoc)
	cfg := e.oauth2Config("web.shop", webCB, "openid", "email")
	b := e.browser()
	resp, body := b.authorize(cfg.AuthCodeURL("s"), "alice", "correct horse")
	if _, err := cfg.Exchange(e.ctx, callback(t, resp, body).Get("code")); err != nil {
		t.Fatal(err)
	}
	doc := *e.doc
	doc.Users = []issuerconfig.User{e.doc.Users[0]}
	doc.Users[0].Email = "alice@wonderland.test"
	doc.Generation++
	if err := e.srv.Swap(&doc); err != nil {
		t.Fatal(err)
	}
	resp, body = b.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	tok, err := cfg.Exchange(e.ctx, callback(t, resp, body).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := jwtParts(t, tok.Extra("id_token").(string)); c["email"] != "alice@wonderland.test" {
		t.Errorf("email after the change: %v", c["email"])
	}
}

func equalJSON(a, b any) bool {
	return reflect.DeepEqual(a, b)
}

// TestAPIAsksForUserClaims: an API that lists groups in spec.userClaims
// finds the user's groups in its access tokens (whatever scopes the client
// asked for), and nothing else; client_credentials tokens carry no user.
func TestAPIAsksForUserClaims(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) {
		directoryDoc(d)
		for i := range d.APIs {
			if d.APIs[i].Name == "orders" {
				d.APIs[i].Spec.UserClaims = []v1alpha1.UserClaim{v1alpha1.UserClaimGroups}
			}
		}
	})
	tok, err := e.loginFlow(e.browser(), "web.shop", webCB)
	if err != nil {
		t.Fatal(err)
	}
	c := e.verifyAccess(tok.AccessToken, "https://orders.acme.test")
	if !equalJSON(c["groups"], []any{"staff", "finance"}) {
		t.Errorf("access token groups = %v, want the user's", c["groups"])
	}
	if _, ok := c["email"]; ok {
		t.Errorf("access token carries email the API did not ask for")
	}
	status, body := e.postForm(PathToken, url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}, "m2m.shop", issuertest.Secrets["m2m.shop"])
	if status != http.StatusOK {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	if _, cc := jwtParts(t, body["access_token"].(string)); cc["groups"] != nil {
		t.Errorf("a client_credentials token carries groups: %v", cc["groups"])
	}
}
