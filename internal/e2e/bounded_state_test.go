package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestOneUserLeavesBoundedState (security review N1): one user signing in
// to one application 1,000 times in one browser (every tenth time typing
// the password again, prompt=login) and redeeming every code leaves one
// session and one refresh family, not a thousand; logging out deletes
// both; and the Tenant's state quota, a ResourceQuota the operator
// renders by default, refuses the record beyond it with a clear OAuth
// error while what is stored keeps working.
func TestOneUserLeavesBoundedState(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	ctx := context.Background()
	quota := &corev1.ResourceQuota{}
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "acme-state"}, quota))
	families := corev1.ResourceName("count/refreshfamilies.state.idtenant.dev")
	g.Expect(quota.Spec.Hard.Name(families, "").Value()).To(BeEquivalentTo(100_000), "the default state quota")

	b := newBrowser(t, s.issuer)
	cfg := s.webConfig(t)
	var idToken string
	for i := range 1000 {
		prompt := "none"
		if i%10 == 0 {
			prompt = "login"
		}
		back := b.authorize(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", prompt), oauth2.SetAuthURLParam("audience", s.orders.Spec.Audience)))
		tok, err := cfg.Exchange(ctx, back.Get("code"))
		if err != nil {
			t.Fatalf("sign-in %d: %v", i+1, err)
		}
		idToken, _ = tok.Extra("id_token").(string)
	}
	got := stateObjects(t, s.ns)
	g.Expect(got["Session"]).To(Equal(1), "sessions after 1,000 sign-ins: %v", got)
	g.Expect(got["RefreshFamily"]).To(Equal(1), "refresh families after 1,000 exchanges: %v", got)

	resp, err := b.client.Get(s.issuer + "/logout?" + url.Values{"id_token_hint": {idToken}}.Encode())
	must(t, err)
	resp.Body.Close()
	got = stateObjects(t, s.ns)
	g.Expect(got["Session"]).To(Equal(0), "sessions after logout: %v", got)
	g.Expect(got["RefreshFamily"]).To(Equal(0), "refresh families after logout: %v", got)

	// A quota of one family: the first browser's grant fits, the second's
	// is refused, and the first keeps refreshing.
	patch(t, s.tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.State = &v1alpha1.StateSpec{Quota: &v1alpha1.StateQuota{RefreshFamilies: new(int64(1))}}
	})
	waitReady(t, s.tenant)
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(quota), quota)).To(Succeed())
		g.Expect(quota.Status.Hard.Name(families, "").Value()).To(BeEquivalentTo(1), "the quota controller took the new count")
	})
	first, _ := s.webLogin(t, newBrowser(t, s.issuer), "")
	g.Expect(first).NotTo(BeNil())
	back := s.webAuthorize(t, newBrowser(t, s.issuer), "")
	status, body, _ := s.post(t, s.issuer, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {back.Get("code")},
		"redirect_uri": {string(s.web.Spec.RedirectURIs[0])}})
	g.Expect(status).To(Equal(http.StatusServiceUnavailable), "the exchange beyond the quota: %v", body)
	g.Expect(body["error"]).To(Equal("temporarily_unavailable"))
	g.Expect(body["error_description"]).To(ContainSubstring("spec.state.quota"))
	status, body, _ = s.post(t, s.issuer, "/oauth/token", refreshForm(first.RefreshToken))
	g.Expect(status).To(Equal(http.StatusOK), "a stored grant beyond the quota still refreshes: %v", body)
	g.Expect(strings.Count(body["refresh_token"].(string), ".")).To(Equal(1))
}
