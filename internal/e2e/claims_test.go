package e2e

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestDirectoryClaimsReachTokens: a users Secret with users.yaml, applied
// through the operator, gives real ID tokens (verified by go-oidc) the
// user's opaque sub, email and groups, and userinfo the same.
func TestDirectoryClaimsReachTokens(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	ctx := context.Background()
	sec := &corev1.Secret{}
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "users"}, sec))
	sec.Data = map[string][]byte{"users.yaml": []byte(`- id: 7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00
  username: alice@acme.test
  passwordHash: "` + aliceHash + `"
  email: alice@acme.test
  emailVerified: true
  name: Alice Liddell
  groups: [staff, finance]
`)}
	must(t, k8s.Update(ctx, sec))
	provider, err := oidc.NewProvider(ctx, s.issuer)
	must(t, err)
	id, secret := clientSecret(t, s.ns, s.web.Name)
	cfg := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: string(s.web.Spec.RedirectURIs[0]), Scopes: []string{oidc.ScopeOpenID, "email", "profile", "groups"}}
	var claims struct {
		Sub           string   `json:"sub"`
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Name          string   `json:"name"`
		Groups        []string `json:"groups"`
	}
	eventually(t, func(g Gomega) {
		back := newBrowser(t, s.issuer).authorize(t, cfg.AuthCodeURL("st"))
		tok, err := cfg.Exchange(ctx, back.Get("code"))
		g.Expect(err).NotTo(HaveOccurred())
		idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(ctx, tok.Extra("id_token").(string))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(idt.Claims(&claims)).To(Succeed())
		g.Expect(claims.Email).To(Equal("alice@acme.test"), "the directory reached the issuer")
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(info.Email).To(Equal("alice@acme.test"))
		g.Expect(info.Subject).To(Equal(claims.Sub))
	})
	g.Expect(claims.Sub).To(Equal("7f9c2e61-0d4a-4c1e-9b8f-2a6d3c5e1f00"), "sub is the directory id, not the username")
	g.Expect(claims.EmailVerified).To(BeTrue())
	g.Expect(claims.Name).To(Equal("Alice Liddell"))
	g.Expect(claims.Groups).To(Equal([]string{"staff", "finance"}))
}
