package issuer

// The federation harness: two issuers on loopback joined by a connection,
// and a fake upstream that answers what a test makes it.

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
)

// federation is two issuers on loopback: "up" (an idtenant tenant with a
// directory, on localhost) and "down" (a tenant whose only way in is a
// connection to up, on 127.0.0.1: another cookie host, as two sites are).
type federation struct {
	up, down *env
	// jar is the browser's; it follows redirects across both issuers and
	// stops at the application.
	client *http.Client
}

const downCallback = "https://web.acme.test/cb"

func newFederation(t *testing.T, connect func(*v1alpha1.Connection)) *federation {
	t.Helper()
	lnUp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnDown, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upIssuer := "http://localhost:" + portOf(lnUp)
	downIssuer := "http://127.0.0.1:" + portOf(lnDown)
	upDoc := issuertest.Doc(t, upIssuer)
	directoryDoc(upDoc)
	// The upstream's sessions outlive the downstream's 8h.
	upDoc.Tenant.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("24h"), AbsoluteTimeout: dur("24h")}
	for i := range upDoc.Applications {
		if upDoc.Applications[i].ClientID == "web.shop" {
			upDoc.Applications[i].Spec.RedirectURIs = append(upDoc.Applications[i].Spec.RedirectURIs, v1alpha1.RedirectURI(downIssuer+pathLoginCallback))
		}
	}
	downDoc := issuertest.Doc(t, downIssuer)
	downDoc.Users = nil
	conn := v1alpha1.Connection{Name: "corp", DisplayName: "Corp SSO", OIDC: v1alpha1.OIDCConnection{
		IssuerURL: upIssuer, ClientID: "web.shop", ClientSecretRef: &v1alpha1.SecretKeyReference{Name: "corp"},
		Scopes: []string{"openid", "email", "profile", "groups"},
		Claims: &v1alpha1.ClaimMapping{GroupsPrefix: new("corp:")},
	}}
	if connect != nil {
		connect(&conn)
	}
	downDoc.Tenant.Spec.Connections = []v1alpha1.Connection{conn}
	downDoc.ConnectionSecrets = map[string]string{"corp": issuertest.Secrets["web.shop"]}
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f := &federation{
		up:   startEnv(t, lnUp, upDoc, &fakeClock{now: start}, memory.New(), nil),
		down: startEnv(t, lnDown, downDoc, &fakeClock{now: start}, memory.New(), nil),
	}
	f.client = newBrowserClient()
	return f
}

func portOf(ln net.Listener) string {
	return ln.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):]
}

func newBrowserClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Hostname() != "127.0.0.1" && req.URL.Hostname() != "localhost" {
			return http.ErrUseLastResponse // the application's redirect URI
		}
		return nil
	}}
}

func (f *federation) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := f.client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// signIn starts at the downstream application and logs in at the upstream
// when its login page appears; it returns the last response.
func (f *federation) signIn(t *testing.T, authURL, user, password string) (*http.Response, string) {
	t.Helper()
	resp, body := f.get(t, authURL)
	if resp.StatusCode == http.StatusOK && strings.Contains(body, `name="password"`) {
		if resp.Request.URL.Host != mustURL(f.up.issuer).Host {
			t.Fatalf("the password form came from %s, not the upstream", resp.Request.URL)
		}
		id, csrf := reID.FindStringSubmatch(body), reCSRF.FindStringSubmatch(body)
		resp, err := f.client.PostForm(f.up.issuer+pathLogin, url.Values{"r": {id[1]}, "csrf": {csrf[1]}, "username": {user}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	return resp, body
}

// getFrom requests u as a browser behind a proxy would forward it for
// address, with extra cookies.
func (f *federation) getFrom(t *testing.T, u, address string, cookies []*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-Forwarded-For", address)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (f *federation) downConfig(scopes ...string) *oauth2.Config {
	return f.down.oauth2Config("web.shop", downCallback, scopes...)
}

func (f *federation) upstreamLogins(connection, result string) float64 {
	return testutil.ToFloat64(f.down.srv.metrics.upstreamLogins.WithLabelValues(connection, result))
}

// fakeUpstream is a hostile or broken OpenID provider: real discovery and
// JWKS, and a token endpoint that answers with the ID token the test made.
type fakeUpstream struct {
	srv     *httptest.Server
	key     *rsa.PrivateKey
	idToken func(nonce string) string
	nonce   string
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	u := &fakeUpstream{key: key}
	mux := http.NewServeMux()
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": u.srv.URL, "authorization_endpoint": u.srv.URL + "/auth",
			"token_endpoint": u.srv.URL + "/token", "jwks_uri": u.srv.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": u.idToken(u.nonce)})
	})
	return u
}

func (u *fakeUpstream) sign(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}
