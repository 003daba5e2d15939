package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func dur(s string) *metav1.Duration {
	d := &metav1.Duration{}
	if err := d.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
		panic(err)
	}
	return d
}

type shop struct {
	ns, issuer    string
	tenant        *v1alpha1.Tenant
	orders, bills *v1alpha1.API
	m2m, web, spa *v1alpha1.Application
	native        *v1alpha1.Application
}

// newShop declares a tenant with two APIs and three applications and waits
// until the issuer serves them all.
func newShop(t testing.TB) *shop { return newShopWith(t, nil) }

// newShopWith is newShop whose Tenant spec mutate changes, with extra
// objects created first in its namespace.
func newShopWith(t testing.TB, mutate func(*v1alpha1.TenantSpec), extra ...client.Object) *shop {
	t.Helper()
	s := &shop{}
	s.ns, s.issuer = newTenantWith(t, mutate, extra...)
	ref := v1alpha1.TenantReference{Name: "acme"}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: s.ns} }
	s.tenant = &v1alpha1.Tenant{ObjectMeta: meta("acme")}
	s.orders = &v1alpha1.API{ObjectMeta: meta("orders"), Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://orders.acme.test",
		Scopes: []v1alpha1.APIScope{{Name: "orders:read"}}, TokenLifetime: dur("3h"), TokenLifetimeForBrowserFlows: dur("20m")}}
	s.bills = &v1alpha1.API{ObjectMeta: meta("billing"), Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://billing.acme.test",
		TokenLifetime: dur("5h"), SigningAlgorithm: v1alpha1.ES256}}
	s.m2m = &v1alpha1.Application{ObjectMeta: meta("invoicer"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.MachineToMachine,
		APIs: []v1alpha1.APIAccess{{Name: "billing"}, {Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}}}
	s.web = &v1alpha1.Application{ObjectMeta: meta("backoffice"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.RegularWeb,
		RedirectURIs: []v1alpha1.RedirectURI{"https://backoffice.acme.test/cb"}, IDTokenLifetime: dur("2h"),
		APIs: []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}}}
	s.spa = &v1alpha1.Application{ObjectMeta: meta("storefront"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.SinglePage,
		RedirectURIs: []v1alpha1.RedirectURI{"http://localhost:3000/cb"}, IDTokenLifetime: dur("45m"),
		APIs: []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}}}
	s.native = &v1alpha1.Application{ObjectMeta: meta("mobile"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.Native,
		RedirectURIs: []v1alpha1.RedirectURI{"http://127.0.0.1/cb"},
		APIs:         []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}}}
	// The back office also allows the hybrid flow: tokens from the front
	// channel get the browser lifetime, those from the token endpoint not.
	s.web.Spec.ResponseTypes = []v1alpha1.ResponseType{"code", "code id_token token"}
	for _, o := range []client.Object{s.orders, s.bills, s.m2m, s.web, s.spa, s.native} {
		must(t, k8s.Create(context.Background(), o))
	}
	waitReady(t, s.tenant, s.orders, s.bills, s.m2m, s.web, s.spa, s.native)
	return s
}

// effectiveAccess returns the status lifetime (seconds) of app's tokens for
// audience in flow.
func effectiveAccess(t testing.TB, app *v1alpha1.Application, audience string, flow v1alpha1.AccessFlow) int64 {
	t.Helper()
	must(t, k8s.Get(context.Background(), client.ObjectKeyFromObject(app), app))
	for _, at := range app.Status.Effective.AccessTokens {
		if at.Audience == audience && at.Flow == flow {
			return at.Lifetime.Seconds
		}
	}
	t.Fatalf("%s has no %s access token for %s in status", app.Name, flow, audience)
	return 0
}

func (s *shop) clientCredentials(t testing.TB, audience string) (*oauth2.Token, error) {
	id, secret := clientSecret(t, s.ns, s.m2m.Name)
	provider, err := oidc.NewProvider(context.Background(), s.issuer)
	must(t, err)
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: provider.Endpoint().TokenURL,
		EndpointParams: url.Values{"audience": {audience}}}
	return cc.Token(context.Background())
}

// TestTokensMatchStatus: for each application type and flow, the tokens an
// unmodified client gets verify against the published keys and live exactly
// as long as status says.
func TestTokensMatchStatus(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.issuer)
	must(t, err)
	var jwks struct {
		JWKS string `json:"jwks_uri"`
	}
	must(t, provider.Claims(&jwks))
	keys := oidc.NewRemoteKeySet(ctx, jwks.JWKS)
	g := NewWithT(t)

	t.Run("MachineToMachine client_credentials", func(t *testing.T) {
		for _, api := range []*v1alpha1.API{s.bills, s.orders} {
			tok, err := s.clientCredentials(t, api.Spec.Audience)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = keys.VerifySignature(ctx, tok.AccessToken)
			g.Expect(err).NotTo(HaveOccurred(), "access token verifies against the JWKS")
			want := effectiveAccess(t, s.m2m, api.Spec.Audience, v1alpha1.FlowStandard)
			g.Expect(lifetimeOf(t, tok.AccessToken)).To(Equal(want), "exp - iat for %s", api.Name)
			g.Expect(claims(t, tok.AccessToken)["aud"]).To(Equal(api.Spec.Audience))
		}
		g.Expect(effectiveAccess(t, s.m2m, s.bills.Spec.Audience, v1alpha1.FlowStandard)).To(Equal(int64(5 * 3600)))
	})

	codeFlow := func(t *testing.T, app *v1alpha1.Application, secret string) (idToken *oidc.IDToken, rawID string, access string) {
		verifier, challenge := pkce()
		cfg := oauth2.Config{ClientID: app.Status.ClientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
			RedirectURL: string(app.Spec.RedirectURIs[0]), Scopes: []string{oidc.ScopeOpenID, "orders:read"}}
		if secret == "" {
			cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		}
		authURL := cfg.AuthCodeURL("state-1", oauth2.SetAuthURLParam("code_challenge", challenge),
			oauth2.SetAuthURLParam("code_challenge_method", "S256"), oauth2.SetAuthURLParam("nonce", "n-1"),
			oauth2.SetAuthURLParam("audience", s.orders.Spec.Audience))
		back := newBrowser(t, s.issuer).authorize(t, authURL)
		g.Expect(back.Get("state")).To(Equal("state-1"))
		tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
		g.Expect(err).NotTo(HaveOccurred())
		rawID, _ = tok.Extra("id_token").(string)
		idToken, err = provider.Verifier(&oidc.Config{ClientID: app.Status.ClientID}).Verify(ctx, rawID)
		g.Expect(err).NotTo(HaveOccurred(), "ID token verifies with go-oidc")
		g.Expect(idToken.Nonce).To(Equal("n-1"))
		return idToken, rawID, tok.AccessToken
	}

	t.Run("RegularWeb code flow", func(t *testing.T) {
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(s.web), s.web))
		_, secret := clientSecret(t, s.ns, s.web.Name)
		_, rawID, access := codeFlow(t, s.web, secret)
		g.Expect(lifetimeOf(t, rawID)).To(Equal(s.web.Status.Effective.IDToken.Seconds))
		g.Expect(s.web.Status.Effective.IDToken.Seconds).To(Equal(int64(2 * 3600)))
		g.Expect(lifetimeOf(t, access)).To(Equal(effectiveAccess(t, s.web, s.orders.Spec.Audience, v1alpha1.FlowStandard)))
		g.Expect(lifetimeOf(t, access)).To(Equal(int64(3*3600)), "a server-side app gets the standard lifetime")
	})

	t.Run("Native code flow with PKCE", func(t *testing.T) {
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(s.native), s.native))
		_, rawID, access := codeFlow(t, s.native, "")
		g.Expect(lifetimeOf(t, rawID)).To(Equal(s.native.Status.Effective.IDToken.Seconds))
		g.Expect(lifetimeOf(t, rawID)).To(Equal(int64(10*3600)), "the default ID token lifetime")
		g.Expect(lifetimeOf(t, access)).To(Equal(effectiveAccess(t, s.native, s.orders.Spec.Audience, v1alpha1.FlowStandard)))
		g.Expect(lifetimeOf(t, access)).To(Equal(int64(3 * 3600)))
	})

	t.Run("RegularWeb hybrid flow", func(t *testing.T) {
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(s.web), s.web))
		q := url.Values{"client_id": {s.web.Status.ClientID}, "redirect_uri": {string(s.web.Spec.RedirectURIs[0])},
			"response_type": {"code id_token token"}, "scope": {"openid orders:read"}, "nonce": {"n-2"}, "state": {"s-2"},
			"audience": {s.orders.Spec.Audience}}
		back := newBrowser(t, s.issuer).authorize(t, provider.Endpoint().AuthURL+"?"+q.Encode())
		g.Expect(back.Get("code")).NotTo(BeEmpty())
		access := back.Get("access_token")
		g.Expect(access).NotTo(BeEmpty(), "the hybrid response carries the access token in the fragment")
		want := effectiveAccess(t, s.web, s.orders.Spec.Audience, v1alpha1.FlowBrowser)
		g.Expect(lifetimeOf(t, access)).To(Equal(want))
		g.Expect(want).To(Equal(int64(20*60)), "front-channel tokens get the browser-flow lifetime")
	})

	t.Run("SinglePage code flow with PKCE", func(t *testing.T) {
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(s.spa), s.spa))
		_, rawID, access := codeFlow(t, s.spa, "")
		g.Expect(lifetimeOf(t, rawID)).To(Equal(s.spa.Status.Effective.IDToken.Seconds))
		g.Expect(lifetimeOf(t, access)).To(Equal(effectiveAccess(t, s.spa, s.orders.Spec.Audience, v1alpha1.FlowBrowser)))
		g.Expect(lifetimeOf(t, access)).To(Equal(int64(20*60)), "code in a browser gets the browser-flow lifetime")
	})
}

// TestChangesReachIssuer: a change in git reaches status and the next token
// together, without restarting the issuer.
func TestChangesReachIssuer(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	g := NewWithT(t)
	tokenLifetime := func(g Gomega) int64 {
		tok, err := s.clientCredentials(t, s.orders.Spec.Audience)
		g.Expect(err).NotTo(HaveOccurred())
		return lifetimeOf(t, tok.AccessToken)
	}

	// Status must never run ahead of the issuer: the moment an Application's
	// status shows a new lifetime, the issuer already mints it.
	statusThenToken := func(t *testing.T, want int64) {
		eventually(t, func(g Gomega) {
			g.Expect(effectiveAccess(t, s.m2m, s.orders.Spec.Audience, v1alpha1.FlowStandard)).To(Equal(want))
		})
		g.Expect(tokenLifetime(g)).To(Equal(want), "status showed %ds before the issuer served it", want)
		waitReady(t, s.m2m)
	}

	t.Run("API tokenLifetime", func(t *testing.T) {
		patch(t, s.orders, func(a *v1alpha1.API) { a.Spec.TokenLifetime = dur("90m") })
		statusThenToken(t, 5400)
		waitReady(t, s.orders)
	})

	t.Run("Tenant policy ceiling", func(t *testing.T) {
		patch(t, s.tenant, func(tn *v1alpha1.Tenant) {
			tn.Spec.Policy = &v1alpha1.LifetimePolicy{MaxAccessTokenLifetime: dur("30m")}
		})
		statusThenToken(t, 1800)
		waitReady(t, s.tenant)
	})

	t.Run("deleted Application is refused", func(t *testing.T) {
		id, secret := clientSecret(t, s.ns, s.m2m.Name)
		creds := &corev1.Secret{}
		must(t, k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: s.m2m.Name + "-oidc-client"}, creds))
		g.Expect(metav1.IsControlledBy(creds, s.m2m)).To(BeTrue(), "the garbage collector deletes it with the Application")
		must(t, k8s.Delete(ctx, s.m2m))
		provider, err := oidc.NewProvider(ctx, s.issuer)
		must(t, err)
		eventually(t, func(g Gomega) {
			form := url.Values{"grant_type": {"client_credentials"}, "audience": {s.orders.Spec.Audience}}
			req, _ := http.NewRequest(http.MethodPost, provider.Endpoint().TokenURL, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(id, secret)
			resp, err := http.DefaultClient.Do(req)
			g.Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
		})
	})
}

// TestCorruptedConfigIsRepaired: a config Secret edited by hand is rewritten
// by the operator; the issuer keeps serving throughout.
func TestCorruptedConfigIsRepaired(t *testing.T) {
	s := newShop(t)
	ctx := context.Background()
	primary := &corev1.Secret{}
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "acme-issuer-config"}, primary))
	before := primary.Annotations["idtenant.dev/config-generation"]
	primary.Data["config.json.gz"] = []byte("garbage")
	must(t, k8s.Update(ctx, primary))
	tok, err := s.clientCredentials(t, s.bills.Spec.Audience)
	NewWithT(t).Expect(err).NotTo(HaveOccurred(), "the issuer keeps its last good configuration")
	NewWithT(t).Expect(lifetimeOf(t, tok.AccessToken)).To(Equal(int64(5 * 3600)))
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(primary), primary)).To(Succeed())
		g.Expect(primary.Annotations["idtenant.dev/config-generation"]).NotTo(Equal(before), "rewritten as a new generation")
	})
	waitReady(t, s.tenant, s.m2m)
}

func patch[T client.Object](t testing.TB, obj T, mutate func(T)) {
	t.Helper()
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		mutate(obj)
		g.Expect(k8s.Update(context.Background(), obj)).To(Succeed())
	})
}
