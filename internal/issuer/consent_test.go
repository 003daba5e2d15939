package issuer

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// thirdParty marks web.shop a third-party application.
func thirdParty(d *issuerconfig.Document) {
	directoryDoc(d)
	for i := range d.Applications {
		if d.Applications[i].ClientID == "web.shop" {
			d.Applications[i].Spec.ThirdParty = true
		}
	}
}

// answer posts the consent page's form with decision.
func (b *browser) answer(page, decision string) (*http.Response, string) {
	b.e.t.Helper()
	id, csrf := reID.FindStringSubmatch(page), reCSRF.FindStringSubmatch(page)
	if id == nil || csrf == nil {
		b.e.t.Fatalf("consent page without r/csrf fields:\n%s", page)
	}
	resp, err := b.client.PostForm(b.e.issuer+pathConsent, url.Values{"r": {id[1]}, "csrf": {csrf[1]}, "decision": {decision}})
	if err != nil {
		b.e.t.Fatalf("POST consent: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func isConsentPage(resp *http.Response, body string) bool {
	return resp.StatusCode == http.StatusOK && strings.Contains(body, `id="consent-items"`)
}

// TestThirdPartyConsent (security review N8): a third-party application
// gets nothing about a user until the user allowed it, on a page naming
// the application and each thing it asks for; the answer is remembered per
// user and application, asked again for anything new or on
// prompt=consent, and a silent request that would need it is refused with
// consent_required. A first-party application never asks.
func TestThirdPartyConsent(t *testing.T) {
	e := newEnv(t, thirdParty)
	b := e.browser()
	cfg := e.oauth2Config("web.shop", webCB, "openid", "email", "groups")
	auth := func(cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) (*http.Response, string) {
		return b.authorize(cfg.AuthCodeURL("st", opts...), "alice", "correct horse")
	}

	toApp := func(resp *http.Response, body string) url.Values { return callback(t, resp, body) }
	resp, page := auth(cfg)
	if !isConsentPage(resp, page) {
		t.Fatalf("a third-party application's first sign-in did not ask: %d %s", resp.StatusCode, page)
	}
	for _, want := range []string{"web", "Your email address", "The groups you belong to", "alice@acme.test"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page does not say %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "name and username") {
		t.Errorf("consent page lists profile, which was not asked for")
	}
	if r, body := b.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none"))); callback(t, r, body).Get("error") != "consent_required" {
		t.Errorf("silent request before any answer: %v", callback(t, r, body))
	}

	// Another browser with its own session cannot answer this one's page.
	other := e.browser()
	other.authorize(e.oauth2Config("spa.shop", "https://spa.acme.test/cb", "openid").AuthCodeURL("x",
		oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "alice", "correct horse")
	if r, body := other.get(e.issuer + pathConsent + "?r=" + url.QueryEscape(reID.FindStringSubmatch(page)[1])); r.StatusCode != http.StatusBadRequest {
		t.Errorf("another session opened this session's consent page: %d %s", r.StatusCode, body)
	}
	// A post without the page's CSRF cookie is refused.
	forged := url.Values{"r": {reID.FindStringSubmatch(page)[1]}, "csrf": {reCSRF.FindStringSubmatch(page)[1]}, "decision": {"allow"}}
	if r, err := http.PostForm(e.issuer+pathConsent, forged); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("consent posted without the page's cookie: %v %v", r.StatusCode, err)
	}

	if cb := toApp(b.answer(page, "deny")); cb.Get("error") != "access_denied" || cb.Get("code") != "" || cb.Get("state") != "st" {
		t.Fatalf("deny: %v", cb)
	}
	if resp, page = auth(cfg); !isConsentPage(resp, page) {
		t.Fatalf("a denial was remembered as an answer: %d", resp.StatusCode)
	}
	if cb := toApp(b.answer(page, "allow")); cb.Get("code") == "" || cb.Get("state") != "st" {
		t.Fatalf("allow: %v", cb)
	}
	if cb := toApp(auth(cfg, oauth2.SetAuthURLParam("prompt", "none"))); cb.Get("code") == "" {
		t.Fatalf("silent sign-in after allowing: %v", cb)
	}

	// Something new is asked for; prompt=consent asks again anyway.
	if resp, page = auth(e.oauth2Config("web.shop", webCB, "openid", "email", "profile")); !isConsentPage(resp, page) || !strings.Contains(page, "Your name and username") {
		t.Fatalf("profile, never allowed, was not asked for: %d %s", resp.StatusCode, page)
	}
	toApp(b.answer(page, "allow"))
	if resp, page = auth(cfg, oauth2.SetAuthURLParam("prompt", "consent")); !isConsentPage(resp, page) {
		t.Fatalf("prompt=consent did not ask: %d", resp.StatusCode)
	}
	if cb := toApp(b.answer(page, "allow")); cb.Get("code") == "" {
		t.Fatalf("allow after prompt=consent: %v", cb)
	}
	if n := e.store.Len()[store.KindConsent]; n != 1 {
		t.Errorf("%d consent records for one user and application, want 1", n)
	}

	// A first-party application never asks.
	spa := e.oauth2Config("spa.shop", "https://spa.acme.test/cb", "openid", "email", "groups")
	if cb := toApp(auth(spa, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); cb.Get("code") == "" {
		t.Errorf("first-party application: %v", cb)
	}

	// After the answer's lifetime the user is asked again.
	e.clock.Advance(consentLifetime)
	b = e.browser()
	if resp, page := auth(cfg); !isConsentPage(resp, page) {
		t.Errorf("an answer older than %v still counted: %d", consentLifetime, resp.StatusCode)
	}
}

// TestTenantConsentPolicy: the Tenant's spec.consent makes applications
// outside its namespace ask, whatever they say of themselves, so an
// admitted namespace's owner cannot collect profiles silently.
func TestTenantConsentPolicy(t *testing.T) {
	for _, c := range []struct {
		policy          v1alpha1.ConsentPolicy
		tenantNamespace string
		ask             bool
	}{
		{v1alpha1.ConsentThirdParty, "id", false},
		{v1alpha1.ConsentOutsideTenantNamespace, "id", true},
		{v1alpha1.ConsentOutsideTenantNamespace, "shop", false},
		{v1alpha1.ConsentAll, "shop", true},
	} {
		e := newEnv(t, func(d *issuerconfig.Document) {
			directoryDoc(d)
			d.Tenant.Spec.Consent, d.Tenant.Namespace = c.policy, c.tenantNamespace
		})
		cfg := e.oauth2Config("spa.shop", "https://spa.acme.test/cb", "openid", "email")
		resp, body := e.browser().authorize(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "alice", "correct horse")
		if isConsentPage(resp, body) != c.ask {
			t.Errorf("spec.consent %s, Tenant in %q, application in shop: consent page %v, want %v (%d)", c.policy, c.tenantNamespace, !c.ask, c.ask, resp.StatusCode)
		}
	}
}

// TestConsentCoversSignInAndAPIs (review of N8): consent covers what a
// grant releases, not only the scopes named: signing in at all (the
// subject, a connection user's upstream account) and an API audience,
// whose access tokens carry the user attributes its userClaims name
// whatever the scopes. A third-party application asking only for openid
// and an API that reads email and groups is asked, and the page says so.
func TestConsentCoversSignInAndAPIs(t *testing.T) {
	e := newEnv(t, func(d *issuerconfig.Document) {
		thirdParty(d)
		for i := range d.APIs {
			if d.APIs[i].Name == "orders" {
				d.APIs[i].Spec.UserClaims = []v1alpha1.UserClaim{v1alpha1.UserClaimEmail, v1alpha1.UserClaimGroups}
			}
		}
	})
	b := e.browser()
	resp, page := b.authorize(e.oauth2Config("web.shop", webCB, "openid").AuthCodeURL("st", oauth2.SetAuthURLParam("audience", "https://orders.acme.test")), "alice", "correct horse")
	if !isConsentPage(resp, page) {
		t.Fatalf("openid and an API reading email and groups, without consent: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, want := range []string{"Call https://orders.acme.test as you, which receives your email address, which receives the groups you belong to", "a stable id of your"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page does not say %q", want)
		}
	}
	if r, body := b.get(e.oauth2Config("web.shop", webCB, "openid").AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none"))); callback(t, r, body).Get("error") != "consent_required" {
		t.Errorf("signing in with openid alone, silently, before any answer: %v", callback(t, r, body))
	}
}

// TestConsentGovernsRefresh (review of N8): refresh tokens of a
// third-party application keep working only while the user's answer covers
// what their grant releases: a Tenant that starts asking stops the
// refresh tokens issued before; "Allow" lets them work again; "Deny"
// withdraws the answer and stops them.
func TestConsentGovernsRefresh(t *testing.T) {
	e := newEnv(t, directoryDoc)
	b := e.browser()
	tok, err := e.loginFlow(b, "web.shop", webCB)
	if err != nil {
		t.Fatal(err)
	}
	doc := *e.doc
	doc.Applications = append([]issuerconfig.Application(nil), doc.Applications...)
	thirdParty(&doc)
	doc.Generation++
	if err := e.srv.Swap(&doc); err != nil {
		t.Fatal(err)
	}
	if status, body := e.refresh("web.shop", tok.RefreshToken); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh of a grant the user never allowed, once the application asks: %d %v", status, body)
	}
	cfg := e.oauth2Config("web.shop", webCB, "openid", "read:orders")
	audience := oauth2.SetAuthURLParam("audience", "https://orders.acme.test")
	resp, page := b.get(cfg.AuthCodeURL("st", audience))
	if !isConsentPage(resp, page) {
		t.Fatalf("no consent page: %d", resp.StatusCode)
	}
	b.answer(page, "allow")
	status, body := e.refresh("web.shop", tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh once allowed: %d %v", status, body)
	}
	resp, page = b.get(cfg.AuthCodeURL("st", audience, oauth2.SetAuthURLParam("prompt", "consent")))
	if !isConsentPage(resp, page) {
		t.Fatalf("prompt=consent: %d", resp.StatusCode)
	}
	b.answer(page, "deny")
	if status, body := e.refresh("web.shop", body["refresh_token"].(string)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after the user denied: %d %v", status, body)
	}
}

// refusingConsents is a store whose consents table is full.
type refusingConsents struct{ store.Table[store.Consent] }

func (refusingConsents) Create(context.Context, string, store.Consent) (store.Record[store.Consent], error) {
	return store.Record[store.Consent]{}, store.ErrQuota
}

type quotaOnConsents struct{ store.Store }

func (q quotaOnConsents) Consents() store.Table[store.Consent] {
	return refusingConsents{q.Store.Consents()}
}

// TestConsentFailsClosed: when the answer cannot be stored, nothing is
// issued and the user is told to try again.
func TestConsentFailsClosed(t *testing.T) {
	e := newEnvOver(t, thirdParty, func(mem *memory.Store) store.Store { return quotaOnConsents{mem} })
	mem := e.store
	b := e.browser()
	resp, page := b.authorize(e.oauth2Config("web.shop", webCB, "openid", "email").AuthCodeURL("st"), "alice", "correct horse")
	if !isConsentPage(resp, page) {
		t.Fatalf("no consent page: %d", resp.StatusCode)
	}
	if resp, body := b.answer(page, "allow"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "reached its capacity") {
		t.Errorf("allow while consents cannot be stored: %d %s", resp.StatusCode, body)
	}
	if n := mem.Len()[store.KindCode]; n != 0 {
		t.Errorf("%d codes issued without a stored answer", n)
	}
}
