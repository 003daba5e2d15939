package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// fakeClock is the injected clock: tests move time, nothing sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var dur = issuertest.Dur

// effective computes, straight from internal/lifetime, what a client's
// lifetimes must be under doc.
func effective(t testing.TB, doc *issuerconfig.Document, clientID string) lifetime.Application {
	ten := lifetime.ForTenant(doc.Tenant.Name, doc.Tenant.Spec)
	for _, a := range doc.Applications {
		if a.ClientID != clientID {
			continue
		}
		var apis []lifetime.API
		for _, access := range a.Spec.APIs {
			for _, o := range doc.APIs {
				if o.Name == access.Name {
					apis = append(apis, lifetime.ForAPI(ten, o.Namespace, o.Name, o.Spec))
				}
			}
		}
		return lifetime.ForApplication(ten, a.Name, a.Spec, apis)
	}
	t.Fatalf("no application %s", clientID)
	return lifetime.Application{}
}

// env is a running issuer on loopback with a fake clock.
type env struct {
	t      testing.TB
	clock  *fakeClock
	srv    *Server
	store  *memory.Store
	http   *httptest.Server
	issuer string
	doc    *issuerconfig.Document
	ctx    context.Context
}

func newEnv(t testing.TB, mutate func(*issuerconfig.Document)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	doc := issuertest.Doc(t, issuer)
	if mutate != nil {
		mutate(doc)
	}
	clk := &fakeClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	return startEnv(t, ln, doc, clk, memory.New(), nil)
}

// newEnvOver is newEnv with the issuer's store wrapped by wrap (an outage,
// a full table, contention) around the memory store env.store reads.
func newEnvOver(t testing.TB, mutate func(*issuerconfig.Document), wrap func(*memory.Store) store.Store) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	doc := issuertest.Doc(t, "http://"+ln.Addr().String())
	if mutate != nil {
		mutate(doc)
	}
	mem := memory.New()
	return startEnv(t, ln, doc, &fakeClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}, mem, wrap(mem))
}

func startEnv(t testing.TB, ln net.Listener, doc *issuerconfig.Document, clk *fakeClock, mem *memory.Store, st store.Store) *env {
	t.Helper()
	if st == nil {
		st = mem
	}
	srv, err := New(doc, Options{Clock: clk, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	e := &env{t: t, clock: clk, srv: srv, store: mem, http: hs, issuer: strings.TrimSuffix(doc.Tenant.Spec.IssuerURL, "/"), doc: doc}
	e.ctx = gooidc.ClientContext(context.Background(), hs.Client())
	e.ctx = context.WithValue(e.ctx, oauth2.HTTPClient, hs.Client())
	return e
}

// replica starts a second issuer serving the same document from the same
// store (another replica of the tenant), on its own loopback port. Its
// env's issuer is the same issuer URL; requests to the replica go to
// r.http.URL.
func (e *env) replica() *env {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	return startEnv(e.t, ln, e.doc, e.clock, e.store, nil)
}

func (e *env) provider() *gooidc.Provider {
	e.t.Helper()
	p, err := gooidc.NewProvider(e.ctx, e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	return p
}

// browser is a user agent with a cookie jar that stops at redirects leaving
// the issuer (to the application), like a real browser handing over.
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	host := mustURL(e.issuer).Host
	return &browser{e: e, client: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

var (
	reID   = regexp.MustCompile(`name="r" value="([^"]+)"`)
	reCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// authorize visits authURL; if the login page appears it logs in with
// password. It returns the last response (a redirect to the application,
// or an issuer page) and its body.
func (b *browser) authorize(authURL, user, password string) (*http.Response, string) {
	b.e.t.Helper()
	resp, body := b.get(authURL)
	if resp.StatusCode == http.StatusOK && strings.Contains(body, `name="password"`) {
		return b.login(body, user, password)
	}
	return resp, body
}

func (b *browser) get(u string) (*http.Response, string) {
	b.e.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.e.t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) login(page, user, password string) (*http.Response, string) {
	b.e.t.Helper()
	id, csrf := reID.FindStringSubmatch(page), reCSRF.FindStringSubmatch(page)
	if id == nil || csrf == nil {
		b.e.t.Fatalf("login page without id/csrf fields:\n%s", page)
	}
	form := url.Values{"r": {id[1]}, "csrf": {csrf[1]}, "username": {user}, "password": {password}}
	resp, err := b.client.PostForm(b.e.issuer+pathLogin, form)
	if err != nil {
		b.e.t.Fatalf("POST login: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// callback parses the application-side redirect: query for code, fragment
// for responses carrying tokens.
func callback(t testing.TB, resp *http.Response, body string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("want a redirect to the application, got %d: %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Fragment != "" {
		v, _ := url.ParseQuery(u.Fragment)
		return v
	}
	return u.Query()
}

func (e *env) oauth2Config(clientID, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: issuertest.Secrets[clientID], RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + pathAuthorize, TokenURL: e.issuer + PathToken}, Scopes: scopes}
}

// jwtParts decodes a JWT's header and claims without verifying (tests
// verify with go-oidc separately).
func jwtParts(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// lifetimeOf is exp - iat of a JWT.
func lifetimeOf(t testing.TB, tok string) time.Duration {
	t.Helper()
	_, c := jwtParts(t, tok)
	return time.Duration((c["exp"].(float64) - c["iat"].(float64)) * float64(time.Second))
}

// verifyAccess checks an access token with go-oidc against the issuer's
// JWKS for audience aud, and its RFC 9068 header.
func (e *env) verifyAccess(tok, aud string) map[string]any {
	e.t.Helper()
	ks := gooidc.NewRemoteKeySet(e.ctx, e.issuer+pathKeys)
	v := gooidc.NewVerifier(e.issuer, ks, &gooidc.Config{ClientID: aud, Now: e.clock.Now,
		SupportedSigningAlgs: []string{"RS256", "ES256"}})
	if _, err := v.Verify(e.ctx, tok); err != nil {
		e.t.Fatalf("access token does not verify for %s: %v", aud, err)
	}
	h, c := jwtParts(e.t, tok)
	if h["typ"] != "at+jwt" {
		e.t.Errorf("access token typ = %v, want at+jwt", h["typ"])
	}
	for _, k := range []string{"jti", "client_id", "sub", "iat", "exp"} {
		if _, ok := c[k]; !ok {
			e.t.Errorf("access token lacks %s", k)
		}
	}
	return c
}

// tokenPost posts a raw token request and decodes the JSON answer.
func (e *env) tokenPost(form url.Values, basicUser, basicPass string) (int, map[string]any) {
	e.t.Helper()
	return e.postForm(PathToken, form, basicUser, basicPass)
}

// postForm posts form to this env's own server (a replica's, for replicas).
func (e *env) postForm(path string, form url.Values, basicUser, basicPass string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			e.t.Fatalf("non-JSON answer %d: %s", resp.StatusCode, body)
		}
	}
	return resp.StatusCode, out
}

func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}
