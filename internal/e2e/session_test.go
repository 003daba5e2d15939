package e2e

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestSessionAndIDTokenChanges: an Application's idTokenLifetime change
// reaches the next ID token of an existing session, and a shortened Tenant
// inactivity timeout ends an existing session that is idle for longer than
// the new value (it waits out the 1-minute minimum, so it runs in parallel).
func TestSessionAndIDTokenChanges(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	g := NewWithT(t)
	provider, err := oidc.NewProvider(ctx, s.issuer)
	must(t, err)
	b := newBrowser(t, s.issuer)
	idToken := func(prompt string) (string, url.Values) {
		verifier, challenge := pkce()
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(s.spa), s.spa))
		cfg := oauth2.Config{ClientID: s.spa.Status.ClientID, Endpoint: provider.Endpoint(),
			RedirectURL: string(s.spa.Spec.RedirectURIs[0]), Scopes: []string{oidc.ScopeOpenID}}
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256")}
		if prompt != "" {
			opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt))
		}
		back := b.authorize(t, cfg.AuthCodeURL("st", opts...))
		if back.Get("code") == "" {
			return "", back
		}
		tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
		must(t, err)
		raw, _ := tok.Extra("id_token").(string)
		return raw, back
	}

	first, _ := idToken("")
	g.Expect(lifetimeOf(t, first)).To(Equal(int64(45 * 60)))

	patch(t, s.spa, func(a *v1alpha1.Application) { a.Spec.IDTokenLifetime = dur("25m") })
	waitReady(t, s.spa)
	g.Expect(s.spa.Status.Effective.IDToken.Seconds).To(Equal(int64(25 * 60)))
	again, _ := idToken("none") // from the existing session, no login page
	g.Expect(lifetimeOf(t, again)).To(Equal(int64(25*60)), "the next ID token carries the new lifetime")

	patch(t, s.tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("1m")}
	})
	waitReady(t, s.tenant, s.spa)
	g.Expect(s.spa.Status.Effective.Session.InactivityTimeout.Seconds).To(Equal(int64(60)))
	time.Sleep(62 * time.Second) // idle past the new timeout
	_, back := idToken("none")
	g.Expect(back.Get("error")).To(Equal("login_required"), "the existing session obeys the shortened inactivity timeout")
}

// TestScalingKeepsSessions: scaling a Tenant's issuer adds a replica
// without replacing the running one, so a user's SSO session (held in that
// replica's memory) survives, and status counts both replicas.
func TestScalingKeepsSessions(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.issuer)
	must(t, err)
	b := newBrowser(t, s.issuer)
	authorize := func(prompt string) url.Values {
		_, challenge := pkce()
		cfg := oauth2.Config{ClientID: s.spa.Status.ClientID, Endpoint: provider.Endpoint(),
			RedirectURL: string(s.spa.Spec.RedirectURIs[0]), Scopes: []string{oidc.ScopeOpenID}}
		opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256")}
		if prompt != "" {
			opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt))
		}
		return b.authorize(t, cfg.AuthCodeURL("st", opts...))
	}
	NewWithT(t).Expect(authorize("").Get("code")).NotTo(BeEmpty(), "logged in")

	patch(t, s.tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Replicas = new(int32(2)) })
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(s.tenant), s.tenant)).To(Succeed())
		g.Expect(s.tenant.Status.Issuer).NotTo(BeNil())
		g.Expect(s.tenant.Status.Issuer.LiveReplicas).To(Equal(int32(2)))
		g.Expect(s.tenant.Status.Issuer.SyncedReplicas).To(Equal(int32(2)))
	})
	back := authorize("none")
	NewWithT(t).Expect(back.Get("error")).To(BeEmpty(), "the session survived scaling: %v", back)
	NewWithT(t).Expect(back.Get("code")).NotTo(BeEmpty())
}
