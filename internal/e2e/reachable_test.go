package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// minted is what one real token says about its lifetime.
type minted struct {
	// life is exp - iat.
	life int64
	// lag is iat - auth_time: how far into the user's session it was
	// issued (0 without a user). A token the session cuts lives exactly
	// the session's absolute timeout minus its lag.
	lag int64
}

// TestStatusIsReachable: on a tenant whose sessions end after 47m, some
// configured lifetimes (2h ID tokens, 3h and 50m access tokens, 720h
// refresh tokens) cannot be reached by anything issued for a user. For
// every application x API x flow in status, and every application's ID
// tokens, real tokens are obtained the way each client gets them (code
// flow, hybrid flow, code + PKCE, refresh, offline refresh,
// client_credentials), and the longest exp - iat seen must be what status
// says: never more, and less only by how far into the session the token
// was issued.
func TestStatusIsReachable(t *testing.T) {
	ctx := context.Background()
	ns, issuer := newTenant(t, func(s *v1alpha1.TenantSpec) {
		s.Session = &v1alpha1.SessionSpec{AbsoluteTimeout: dur("47m")}
	})
	ref := v1alpha1.TenantReference{Name: "acme"}
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	orders := &v1alpha1.API{ObjectMeta: om("orders"), Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://orders.acme.test",
		TokenLifetime: dur("3h"), TokenLifetimeForBrowserFlows: dur("20m")}}
	billing := &v1alpha1.API{ObjectMeta: om("billing"), Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://billing.acme.test",
		TokenLifetime: dur("50m"), SigningAlgorithm: v1alpha1.ES256}}
	both := []v1alpha1.APIAccess{{Name: "orders"}, {Name: "billing"}}
	web := &v1alpha1.Application{ObjectMeta: om("backoffice"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.RegularWeb,
		RedirectURIs: []v1alpha1.RedirectURI{"https://backoffice.acme.test/cb"}, IDTokenLifetime: dur("2h"), APIs: both,
		ResponseTypes: []v1alpha1.ResponseType{"code", "code id_token token"}}}
	spa := &v1alpha1.Application{ObjectMeta: om("storefront"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.SinglePage,
		RedirectURIs: []v1alpha1.RedirectURI{"http://localhost:3000/cb"}, IDTokenLifetime: dur("45m"), APIs: both}}
	native := &v1alpha1.Application{ObjectMeta: om("mobile"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.Native,
		RedirectURIs: []v1alpha1.RedirectURI{"http://127.0.0.1/cb"}, APIs: both,
		RefreshToken: &v1alpha1.RefreshTokenSpec{AllowOfflineAccess: true}}}
	m2m := &v1alpha1.Application{ObjectMeta: om("invoicer"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.MachineToMachine, APIs: both}}
	apps := []*v1alpha1.Application{web, spa, native, m2m}
	for _, o := range []client.Object{orders, billing, web, spa, native, m2m} {
		must(t, k8s.Create(ctx, o))
	}
	waitReady(t, orders, billing, web, spa, native, m2m)

	provider, err := oidc.NewProvider(ctx, issuer)
	must(t, err)
	audience := map[string]string{ns + "/orders": orders.Spec.Audience, ns + "/billing": billing.Spec.Audience}
	seen := map[string][]minted{}
	record := func(key, jwt string) {
		t.Helper()
		if jwt == "" {
			t.Fatalf("%s: no token", key)
		}
		c := claims(t, jwt)
		m := minted{life: int64(c["exp"].(float64) - c["iat"].(float64))}
		if at, ok := c["auth_time"].(float64); ok {
			m.lag = int64(c["iat"].(float64) - at)
		}
		seen[key] = append(seen[key], m)
	}
	cell := func(app *v1alpha1.Application, api string, flow v1alpha1.AccessFlow) string {
		return fmt.Sprintf("%s %s %s", app.Name, api, flow)
	}
	idCell := func(app *v1alpha1.Application) string { return app.Name + " ID token" }

	// oauthConfig is each application's client as its own code would set it up.
	oauthConfig := func(app *v1alpha1.Application, scopes ...string) oauth2.Config {
		cfg := oauth2.Config{ClientID: app.Status.ClientID, Endpoint: provider.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, scopes...)}
		if len(app.Spec.RedirectURIs) > 0 {
			cfg.RedirectURL = string(app.Spec.RedirectURIs[0])
		}
		if app.Spec.Type == v1alpha1.RegularWeb {
			_, cfg.ClientSecret = clientSecret(t, ns, app.Name)
		} else {
			cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		}
		return cfg
	}
	// codeFlow logs in afresh (a new session), exchanges the code, records
	// the access and ID tokens, then refreshes once and records those too.
	codeFlow := func(app *v1alpha1.Application, api string, flow v1alpha1.AccessFlow, scopes ...string) {
		t.Helper()
		cfg := oauthConfig(app, scopes...)
		verifier, challenge := pkce()
		back := newBrowser(t, issuer).authorize(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
			oauth2.SetAuthURLParam("code_challenge_method", "S256"), oauth2.SetAuthURLParam("audience", audience[api])))
		tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
		must(t, err)
		record(cell(app, api, flow), tok.AccessToken)
		idToken, _ := tok.Extra("id_token").(string)
		record(idCell(app), idToken)
		if tok.RefreshToken == "" {
			t.Fatalf("%s: the code exchange returned no refresh token", app.Name)
		}
		refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		must(t, err)
		record(cell(app, api, flow), refreshed.AccessToken)
		idToken, _ = refreshed.Extra("id_token").(string)
		record(idCell(app), idToken)
	}

	for _, app := range apps {
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(app), app))
		for _, at := range app.Status.Effective.AccessTokens {
			switch {
			case app.Spec.Type == v1alpha1.MachineToMachine:
				id, secret := clientSecret(t, ns, app.Name)
				form := url.Values{"grant_type": {"client_credentials"}, "audience": {at.Audience}}
				req, _ := http.NewRequest(http.MethodPost, provider.Endpoint().TokenURL, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(id, secret)
				record(cell(app, at.API, at.Flow), tokenFrom(t, req))
			case at.Flow == v1alpha1.FlowBrowser && app.Spec.Type == v1alpha1.RegularWeb:
				// The front channel: the access token comes in the fragment.
				q := url.Values{"client_id": {app.Status.ClientID}, "redirect_uri": {string(app.Spec.RedirectURIs[0])},
					"response_type": {"code id_token token"}, "scope": {"openid"}, "nonce": {"n"}, "state": {"s"}, "audience": {at.Audience}}
				back := newBrowser(t, issuer).authorize(t, provider.Endpoint().AuthURL+"?"+q.Encode())
				record(cell(app, at.API, at.Flow), back.Get("access_token"))
				record(idCell(app), back.Get("id_token"))
			case app.Spec.RefreshToken != nil && app.Spec.RefreshToken.AllowOfflineAccess:
				// Once with offline_access: the refreshed tokens are no
				// longer bound to the session. Once without, bound.
				codeFlow(app, at.API, at.Flow, oidc.ScopeOfflineAccess)
				codeFlow(app, at.API, at.Flow)
			default:
				codeFlow(app, at.API, at.Flow)
			}
		}
	}

	// What status must say, pinned, so that the test and the code cannot
	// agree on a wrong value: 47m wherever the session cuts, the configured
	// value beside it; machine-to-machine and offline-capable applications
	// uncut.
	const capBy = "Tenant acme/spec.session.absoluteTimeout"
	type expect struct {
		seconds    int64
		configured string // "" when the session does not decide
	}
	m47 := int64(47 * 60)
	wantStatus := map[string]expect{
		idCell(web): {m47, "2h"},
		cell(web, ns+"/orders", v1alpha1.FlowStandard):  {m47, "3h"},
		cell(web, ns+"/orders", v1alpha1.FlowBrowser):   {20 * 60, ""},
		cell(web, ns+"/billing", v1alpha1.FlowStandard): {m47, "50m"},
		cell(web, ns+"/billing", v1alpha1.FlowBrowser):  {m47, "50m"},
		idCell(spa): {45 * 60, ""},
		cell(spa, ns+"/orders", v1alpha1.FlowBrowser):  {20 * 60, ""},
		cell(spa, ns+"/billing", v1alpha1.FlowBrowser): {m47, "50m"},
		idCell(native): {10 * 3600, ""},
		cell(native, ns+"/orders", v1alpha1.FlowStandard):  {3 * 3600, ""},
		cell(native, ns+"/billing", v1alpha1.FlowStandard): {50 * 60, ""},
		cell(m2m, ns+"/orders", v1alpha1.FlowStandard):     {3 * 3600, ""},
		cell(m2m, ns+"/billing", v1alpha1.FlowStandard):    {50 * 60, ""},
	}
	checked := 0
	check := func(key string, st v1alpha1.EffectiveLifetime) {
		t.Helper()
		checked++
		tokens := seen[key]
		if len(tokens) == 0 {
			t.Errorf("%s: status says %s, but no real token was obtained for it", key, st.Duration)
			return
		}
		longest := tokens[0]
		for _, m := range tokens[1:] {
			if m.life > longest.life {
				longest = m
			}
		}
		t.Logf("%-40s status %-4s (%6ds, boundBy %s) longest exp-iat %6ds, issued %ds into its session, %d tokens",
			key, st.Duration, st.Seconds, st.BoundBy, longest.life, longest.lag, len(tokens))
		if longest.life > st.Seconds {
			t.Errorf("%s: a token lived %ds, longer than status' %ds", key, longest.life, st.Seconds)
		}
		if longest.life+longest.lag < st.Seconds {
			t.Errorf("%s: status says %ds, but the longest token lived %ds, issued %ds into its session: status names a lifetime no token reaches",
				key, st.Seconds, longest.life, longest.lag)
		}
		w, ok := wantStatus[key]
		if !ok {
			t.Errorf("%s: unexpected in status", key)
			return
		}
		if st.Seconds != w.seconds {
			t.Errorf("%s: status %ds, want %ds", key, st.Seconds, w.seconds)
		}
		switch {
		case w.configured == "" && st.Configured != nil:
			t.Errorf("%s: configured %s shown, but the session does not decide", key, st.Configured.Duration)
		case w.configured != "" && (st.Configured == nil || st.Configured.Duration != w.configured || st.BoundBy != capBy):
			t.Errorf("%s: want boundBy %q with configured %s beside it, got boundBy %q configured %+v", key, capBy, w.configured, st.BoundBy, st.Configured)
		}
	}
	for _, app := range apps {
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(app), app))
		if id := app.Status.Effective.IDToken; id != nil {
			check(idCell(app), *id)
		}
		for _, at := range app.Status.Effective.AccessTokens {
			check(cell(app, at.API, at.Flow), at.Lifetime)
		}
	}
	g := NewWithT(t)
	g.Expect(checked).To(Equal(len(wantStatus)), "every application x API x flow and every ID token checked")

	// Session-bound refresh tokens end with the session too; offline ones
	// keep their own lifetime.
	g.Expect(web.Status.Effective.RefreshToken.AbsoluteLifetime.Seconds).To(Equal(m47))
	g.Expect(web.Status.Effective.RefreshToken.AbsoluteLifetime.Configured.Duration).To(Equal("720h"))
	g.Expect(native.Status.Effective.RefreshToken.AbsoluteLifetime.Seconds).To(Equal(int64(720 * 3600)))

	// What people read: the Ready summary, the advisory, and the columns
	// of `kubectl get`.
	ready := meta.FindStatusCondition(web.Status.Conditions, v1alpha1.ConditionReady)
	g.Expect(ready.Message).To(HavePrefix("ID tokens last 47m. Access tokens: orders 47m (standard flow), orders 20m (browser flow), billing 47m"))
	g.Expect(ready.Message).To(ContainSubstring("so ID tokens set to 2h, orders access tokens set to 3h (standard flow)"))
	var advisories []string
	for _, a := range web.Status.Advisories {
		advisories = append(advisories, a.Reason)
	}
	g.Expect(advisories).To(ContainElement("SessionCapsLifetimes"))
	g.Expect(printerColumn(t, ns, "applications", web.Name, "ID-Token")).To(Equal("47m"))
	g.Expect(printerColumn(t, ns, "applications", spa.Name, "ID-Token")).To(Equal("45m"))
	must(t, k8s.Get(ctx, client.ObjectKeyFromObject(orders), orders))
	g.Expect(meta.FindStatusCondition(orders.Status.Conditions, v1alpha1.ConditionReady).Message).To(
		HaveSuffix("Those issued on behalf of a user end with the user's session, 47m after login at most."))
}

// tokenFrom posts a token request and returns the access token.
func tokenFrom(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", resp.StatusCode, body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	must(t, json.Unmarshal(body, &out))
	return out.AccessToken
}

// printerColumn asks the API server for the table `kubectl get` prints and
// returns one cell of the object's row.
func printerColumn(t *testing.T, ns, resource, name, column string) string {
	t.Helper()
	hc, err := rest.HTTPClientFor(kubelet.Config)
	must(t, err)
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/apis/%s/%s/namespaces/%s/%s/%s",
		strings.TrimSuffix(apiServer, "/"), v1alpha1.GroupVersion.Group, v1alpha1.GroupVersion.Version, ns, resource, name), nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var table metav1.Table
	must(t, json.NewDecoder(resp.Body).Decode(&table))
	if len(table.Rows) != 1 {
		t.Fatalf("table of %s/%s has %d rows", resource, name, len(table.Rows))
	}
	for i, c := range table.ColumnDefinitions {
		if c.Name == column {
			return fmt.Sprint(table.Rows[0].Cells[i])
		}
	}
	t.Fatalf("no column %q in %+v", column, table.ColumnDefinitions)
	return ""
}
