package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

var (
	fuzzOnce sync.Once
	fuzzSrv  *Server
)

const fuzzIssuer = "https://id.acme.test"

func fuzzServer(t testing.TB) *Server {
	fuzzOnce.Do(func() {
		clk := &fakeClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
		s, err := New(issuertest.Doc(t, fuzzIssuer), Options{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		fuzzSrv = s
	})
	return fuzzSrv
}

// FuzzTokenRequest: whatever the body and credentials, the token endpoint
// answers with JSON, never a 5xx, and an error unless it issued a token.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&audience=https%3A%2F%2Forders.acme.test", "m2m.shop", "")
	f.Add("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fweb.acme.test%2Fcb&code_verifier=x", "web.shop", "s")
	f.Add("grant_type=refresh_token&refresh_token=x&client_id=spa.shop&scope=openid%20offline_access", "", "")
	f.Add("grant_type=client_credentials&resource=a&resource=b&scope=%zz", "m2m.shop", "x")
	f.Add("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=e30.e30.e30", "", "")
	f.Fuzz(func(t *testing.T, body, user, pass string) {
		s := fuzzServer(t)
		req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			if user == "m2m.shop" && pass == "" {
				pass = issuertest.Secrets["m2m.shop"]
			}
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("non-JSON answer %d: %q", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK && out["error"] == nil {
			t.Fatalf("error answer without an error code: %d %v", rec.Code, out)
		}
		if rec.Code == http.StatusOK && out["access_token"] == nil {
			t.Fatalf("200 without a token: %v", out)
		}
	})
}

// FuzzAuthorizeRequest: whatever the query, the authorization endpoint never
// fails with a 5xx and never redirects anywhere but to a registered
// redirect URI or its own login page (no open redirect).
func FuzzAuthorizeRequest(f *testing.F) {
	f.Add("client_id=web.shop&redirect_uri=https%3A%2F%2Fweb.acme.test%2Fcb&response_type=code&scope=openid&state=s")
	f.Add("client_id=spa.shop&redirect_uri=https%3A%2F%2Fspa.acme.test%2Fcb&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=S256&prompt=none")
	f.Add("client_id=web.shop&redirect_uri=https%3A%2F%2Fevil.test&response_type=id_token%20token&nonce=n&max_age=-1")
	f.Add("client_id=native.shop&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&response_mode=form_post")
	f.Add("client_id=web.shop&redirect_uri=https%3A%2F%2Fweb.acme.test%2Fcb&response_type=code&audience=x&resource=y&prompt=none%20login")
	f.Fuzz(func(t *testing.T, query string) {
		s := fuzzServer(t)
		req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, query, rec.Body)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			allowed := []string{fuzzIssuer + pathLogin + "?", "https://web.acme.test/cb?", "https://web.acme.test/cb#",
				"https://spa.acme.test/cb?", "https://spa.acme.test/cb#", "com.acme.app:/cb?", "com.acme.app:/cb#"}
			// A native app's loopback redirect may use any port and any
			// loopback address (RFC 8252 section 7.3).
			u, isLoopback := op.HTTPLoopbackOrLocalhost(loc)
			ok := isLoopback && u.Scheme == "http" && u.Path == "/cb"
			for _, p := range allowed {
				ok = ok || strings.HasPrefix(loc, p)
			}
			if !ok {
				t.Fatalf("redirect to an unregistered place %q for %q", loc, query)
			}
		}
	})
}
