package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// federation is two Tenants on the real control plane with issuer
// processes: "corp" (localhost) is the upstream with a directory; "shop"
// (127.0.0.1: another cookie host, as two sites are) has a local user and
// a connection to corp.
type federation struct {
	upNS, upIssuer     string
	downNS, downIssuer string
	down               *v1alpha1.Tenant
	portal             *v1alpha1.Application
	connection         v1alpha1.Connection
}

const bobPasswordHash = aliceHash // bob's password is alice's: "wonderland"

func newFederation(t *testing.T) *federation {
	t.Helper()
	ctx := context.Background()
	f := &federation{downIssuer: "http://127.0.0.1:" + freePort(t)}
	f.upIssuer = "http://localhost:" + freePort(t)
	f.upNS, _ = newTenant(t, func(s *v1alpha1.TenantSpec) {
		s.IssuerURL = f.upIssuer
		s.DisplayName = "Corp"
	})
	users := &corev1.Secret{}
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: f.upNS, Name: "users"}, users))
	users.Data = map[string][]byte{"users.yaml": []byte(`- id: alice-at-corp
  username: alice@acme.test
  passwordHash: "` + aliceHash + `"
  email: alice@corp.test
  emailVerified: true
  name: Alice Liddell
  groups: [staff, finance]
`)}
	must(t, k8s.Update(ctx, users))
	// idtenant "shop" is a web application of corp, whose redirect URI is
	// shop's callback.
	idp := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "shop-idtenant", Namespace: f.upNS}, Spec: v1alpha1.ApplicationSpec{
		TenantRef: v1alpha1.TenantReference{Name: "acme"}, Type: v1alpha1.RegularWeb,
		RedirectURIs: []v1alpha1.RedirectURI{v1alpha1.RedirectURI(f.downIssuer + "/login/callback")}}}
	must(t, k8s.Create(ctx, idp))
	waitReady(t, &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: f.upNS}}, idp)
	clientID, secret := clientSecret(t, f.upNS, idp.Name)

	f.connection = v1alpha1.Connection{Name: "corp", DisplayName: "Corp SSO", OIDC: v1alpha1.OIDCConnection{
		IssuerURL: f.upIssuer, ClientID: clientID, ClientSecretRef: &v1alpha1.SecretKeyReference{Name: "corp-oidc"},
		Scopes: []string{"openid", "email", "profile", "groups"}, Claims: &v1alpha1.ClaimMapping{GroupsPrefix: new("corp:")},
		RequireVerifiedEmail: true,
	}}
	f.downNS, _ = newTenant(t, func(s *v1alpha1.TenantSpec) {
		s.IssuerURL = f.downIssuer
		// One minute of absolute session: shorter than corp's (72h).
		s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("1m"), AbsoluteTimeout: dur("1m")}
		s.Connections = []v1alpha1.Connection{f.connection}
	})
	must(t, k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "corp-oidc", Namespace: f.downNS, Annotations: map[string]string{v1alpha1.AnnotationConnectionIssuer: f.upIssuer}},
		StringData: map[string]string{"clientSecret": secret}}))
	down := &corev1.Secret{}
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: f.downNS, Name: "users"}, down))
	down.Data = map[string][]byte{"users.yaml": []byte(`- username: bob
  passwordHash: "` + bobPasswordHash + `"
  email: bob@shop.test
  emailVerified: true
  groups: [shop-admins]
`)}
	must(t, k8s.Update(ctx, down))
	f.down = &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: f.downNS}}
	f.portal = &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "portal", Namespace: f.downNS}, Spec: v1alpha1.ApplicationSpec{
		TenantRef: v1alpha1.TenantReference{Name: "acme"}, Type: v1alpha1.RegularWeb,
		RedirectURIs: []v1alpha1.RedirectURI{"https://portal.shop.test/cb"}}}
	must(t, k8s.Create(ctx, f.portal))
	waitReady(t, f.down, f.portal)
	return f
}

// userAgent follows redirects between the two issuers (and oauth2-proxy)
// on loopback, and stops where an application outside it takes over.
func userAgent() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if h := req.URL.Hostname(); h != "127.0.0.1" && h != "localhost" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

var reConnection = regexp.MustCompile(`<a class="connection" href="([^"]+)">Continue with ([^<]+)</a>`)

// signIn opens u and signs in on the login pages it meets: at shop either
// with the local form (user "bob") or through the corp button, then at
// corp with alice's password. It returns the final response and body.
func signIn(t *testing.T, ua *http.Client, u, user string) (*http.Response, string) {
	t.Helper()
	get := func(u string) (*http.Response, string) {
		resp, err := ua.Get(u)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(page *http.Response, body, username string) (*http.Response, string) {
		id, csrf := reID.FindStringSubmatch(body), reCSRF.FindStringSubmatch(body)
		if id == nil || csrf == nil {
			t.Fatalf("login page without its fields: %s", body)
		}
		target := *page.Request.URL
		target.RawQuery = ""
		resp, err := ua.PostForm(target.String(), url.Values{"r": {id[1]}, "csrf": {csrf[1]}, "username": {username}, "password": {alicePassword}})
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(u)
	for range 3 {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Sign in") {
			return resp, body
		}
		switch m := reConnection.FindStringSubmatch(body); {
		case user == "bob":
			resp, body = post(resp, body, "bob")
		case m != nil:
			link, err := resp.Request.URL.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
			must(t, err)
			resp, body = get(link.String())
		case strings.Contains(body, `name="password"`):
			resp, body = post(resp, body, "alice@acme.test")
		}
	}
	return resp, body
}

func appRedirect(t *testing.T, resp *http.Response, body string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("want a redirect to the application, got %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	must(t, err)
	return loc.Query()
}

// TestConnections: a user of one Tenant signs in to another Tenant's
// application through a connection, with the unmodified go-oidc client:
// real OpenID Connect on both sides, issuer processes on the real control
// plane. The groups arrive prefixed; oauth2-proxy lets both a local user
// and the upstream user through to a static site with their email and
// groups; the downstream's one-minute absolute timeout ends the session
// while the upstream's lives on; removing the connection ends sessions it
// started; an upstream that refuses ends on the error page.
func TestConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFederation(t)
	g := NewWithT(t)

	// Status: the live discovery check (run in the background, so it may
	// follow Ready) and the redirect URI to register.
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(f.down), f.down)).To(Succeed())
		cond := meta.FindStatusCondition(f.down.Status.Conditions, v1alpha1.ConditionConnectionsReady)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.Status).To(Equal(metav1.ConditionTrue), cond.Message)
	}).WithTimeout(30 * time.Second).Should(Succeed())
	g.Expect(f.down.Status.Connections).To(HaveLen(1))
	g.Expect(f.down.Status.Connections[0].RedirectURI).To(Equal(f.downIssuer + "/login/callback"))

	t.Run("oauth2-proxy", func(t *testing.T) { oauth2ProxyLetsBothThrough(t, f) })

	provider, err := oidc.NewProvider(ctx, f.downIssuer)
	must(t, err)
	id, secret := clientSecret(t, f.downNS, f.portal.Name)
	cfg := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: "https://portal.shop.test/cb", Scopes: []string{oidc.ScopeOpenID, "email", "profile", "groups"}}
	ua := userAgent()
	loginAt := time.Now()
	resp, body := signIn(t, ua, cfg.AuthCodeURL("st-1"), "alice")
	tok, err := cfg.Exchange(ctx, appRedirect(t, resp, body).Get("code"))
	must(t, err)
	idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(ctx, tok.Extra("id_token").(string))
	must(t, err)
	var c struct {
		Sub       string   `json:"sub"`
		Email     string   `json:"email"`
		Groups    []string `json:"groups"`
		Federated struct {
			ConnectorID string `json:"connector_id"`
			UserID      string `json:"user_id"`
		} `json:"federated_claims"`
	}
	must(t, idt.Claims(&c))
	g.Expect(c.Groups).To(Equal([]string{"corp:staff", "corp:finance"}))
	g.Expect(c.Email).To(Equal("alice@corp.test"))
	g.Expect(c.Federated.ConnectorID).To(Equal("corp"))
	g.Expect(c.Federated.UserID).To(Equal("alice-at-corp"), "the upstream subject is kept in a claim")
	g.Expect(c.Sub).To(HavePrefix("c-"), "our own subject, not the upstream's")

	// Our absolute timeout (1m) ends the session although the user keeps
	// it active, while corp's session (72h) lives on.
	none := func(state string) url.Values {
		resp, body := signIn(t, ua, cfg.AuthCodeURL(state, oauth2.SetAuthURLParam("prompt", "none")), "")
		return appRedirect(t, resp, body)
	}
	for _, at := range []time.Duration{20 * time.Second, 40 * time.Second} {
		time.Sleep(time.Until(loginAt.Add(at)))
		g.Expect(none("active").Get("code")).NotTo(BeEmpty(), "within the absolute timeout the session answers prompt=none")
	}
	time.Sleep(time.Until(loginAt.Add(65 * time.Second)))
	g.Expect(none("late").Get("error")).To(Equal("login_required"), "shop's absolute timeout ended the session")
	resp, body = signIn(t, ua, cfg.AuthCodeURL("again"), "")
	g.Expect(appRedirect(t, resp, body).Get("code")).NotTo(BeEmpty(), "corp's session still signs the user in without a password")

	// Removing the connection ends the session it started.
	g.Expect(none("still").Get("code")).NotTo(BeEmpty())
	setConnections := func(c ...v1alpha1.Connection) {
		eventually(t, func(g Gomega) {
			tenant := &v1alpha1.Tenant{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(f.down), tenant)).To(Succeed())
			tenant.Spec.Connections = c
			g.Expect(k8s.Update(ctx, tenant)).To(Succeed()) // a status write may come between
		})
	}
	setConnections()
	eventually(t, func(g Gomega) {
		g.Expect(none("removed").Get("error")).To(Equal("login_required"))
	})

	// An upstream that refuses (here: a scope corp does not grant) ends on
	// shop's error page, with no session.
	refused := f.connection
	refused.OIDC.Scopes = append(append([]string(nil), refused.OIDC.Scopes...), "payroll:admin")
	setConnections(refused)
	eventually(t, func(g Gomega) {
		resp, body := signIn(t, userAgent(), cfg.AuthCodeURL("refused"), "alice")
		g.Expect(resp.StatusCode).To(Equal(http.StatusForbidden), body)
		g.Expect(body).To(ContainSubstring("Corp SSO did not sign you in (invalid_scope)"))
		g.Expect(resp.Request.URL.Path).To(Equal("/login/callback"))
	})
	g.Expect(none("after-refusal").Get("error")).To(Equal("login_required"))
}

// oauth2ProxyLetsBothThrough runs oauth2-proxy (unmodified, built from the
// Go module proxy) in front of a static site, with shop as its OpenID
// Connect provider: shop's local user bob and corp's alice both get
// through, and their email and groups reach the site's request headers.
func oauth2ProxyLetsBothThrough(t *testing.T, f *federation) {
	bin := os.Getenv("OAUTH2_PROXY")
	if bin == "" {
		t.Skip("OAUTH2_PROXY is not set (make test builds bin/oauth2-proxy and sets it)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("OAUTH2_PROXY=%s: %v", bin, err)
	}
	ctx := context.Background()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"email": r.Header.Get("X-Forwarded-Email"), "groups": strings.Join(r.Header.Values("X-Forwarded-Groups"), ","), "user": r.Header.Get("X-Forwarded-User")})
	}))
	defer site.Close()
	proxyAddr := "127.0.0.1:" + freePort(t)
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "oauth2-proxy", Namespace: f.downNS}, Spec: v1alpha1.ApplicationSpec{
		TenantRef: v1alpha1.TenantReference{Name: "acme"}, Type: v1alpha1.RegularWeb,
		RedirectURIs: []v1alpha1.RedirectURI{v1alpha1.RedirectURI("http://" + proxyAddr + "/oauth2/callback")}}}
	must(t, k8s.Create(ctx, app))
	waitReady(t, app, f.down)
	id, secret := clientSecret(t, f.downNS, app.Name)
	cmd := exec.Command(bin,
		"--provider=oidc", "--oidc-issuer-url="+f.downIssuer, "--client-id="+id, "--client-secret="+secret,
		"--redirect-url=http://"+proxyAddr+"/oauth2/callback", "--http-address="+proxyAddr,
		"--upstream="+site.URL+"/", "--cookie-secret=0123456789abcdef0123456789abcdef", "--cookie-secure=false",
		"--email-domain=*", "--scope=openid email profile groups", "--oidc-groups-claim=groups",
		"--pass-user-headers=true", "--skip-provider-button=true", "--code-challenge-method=S256")
	logs, err := os.CreateTemp("", "oauth2-proxy-*.log")
	must(t, err)
	defer os.Remove(logs.Name())
	cmd.Stdout, cmd.Stderr = logs, logs
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	eventually(t, func(g Gomega) {
		resp, err := http.Get("http://" + proxyAddr + "/ping")
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	})
	for _, tc := range []struct{ user, email, groups string }{
		{"bob", "bob@shop.test", "shop-admins"},
		{"alice", "alice@corp.test", "corp:staff,corp:finance"},
	} {
		resp, body := signIn(t, userAgent(), "http://"+proxyAddr+"/", tc.user)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Host != proxyAddr {
			out, _ := os.ReadFile(logs.Name())
			t.Fatalf("%s through oauth2-proxy: %d at %s: %s\noauth2-proxy log:\n%s", tc.user, resp.StatusCode, resp.Request.URL, body, out)
		}
		var seen map[string]string
		must(t, json.Unmarshal([]byte(body), &seen))
		if seen["email"] != tc.email || seen["groups"] != tc.groups {
			t.Errorf("%s: the site saw email %q groups %q, want %q %q", tc.user, seen["email"], seen["groups"], tc.email, tc.groups)
		}
	}
}
