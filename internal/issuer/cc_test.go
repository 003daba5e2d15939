package issuer

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

func TestDiscoveryAndJWKSPublishEveryKey(t *testing.T) {
	e := newEnv(t, nil)
	p := e.provider()
	if p.Endpoint().TokenURL != e.issuer+PathToken {
		t.Errorf("token endpoint = %q", p.Endpoint().TokenURL)
	}
	var meta struct {
		Methods []string `json:"code_challenge_methods_supported"`
		Revoke  string   `json:"revocation_endpoint"`
		Intro   string   `json:"introspection_endpoint"`
		End     string   `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(meta.Methods, []string{"S256"}) || meta.Revoke == "" || meta.Intro == "" || meta.End == "" {
		t.Errorf("discovery metadata incomplete: %+v", meta)
	}
	code, jwks := e.do(mustReq(http.NewRequest(http.MethodGet, e.issuer+pathKeys, nil)))
	if code != http.StatusOK {
		t.Fatalf("JWKS: %d", code)
	}
	var kids []string
	for _, k := range jwks["keys"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	slices.Sort(kids)
	if !slices.Equal(kids, []string{"ec-1", "rsa-1", "rsa-2"}) {
		t.Errorf("JWKS kids = %v, want the active, next and ES256 keys", kids)
	}
}

func mustReq(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	return r
}

func TestClientCredentialsLifetimeIsTheAPIsStandardLifetime(t *testing.T) {
	e := newEnv(t, nil)
	eff := effective(t, e.doc, "m2m.shop")
	for _, c := range []struct {
		api, aud, alg string
		want          time.Duration
		style         bool // true: client_secret_post
	}{
		{"shop/orders", "https://orders.acme.test", "RS256", 3 * time.Hour, false},
		{"shop/payments", "https://payments.acme.test", "ES256", time.Hour, true},
	} {
		t.Run(c.api, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: "m2m.shop", ClientSecret: issuertest.Secrets["m2m.shop"], TokenURL: e.issuer + PathToken,
				EndpointParams: url.Values{"audience": {c.aud}}}
			if c.style {
				cfg.AuthStyle = 1 // oauth2.AuthStyleInParams
			} else {
				cfg.AuthStyle = 2 // oauth2.AuthStyleInHeader
			}
			tok, err := cfg.Token(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			claims := e.verifyAccess(tok.AccessToken, c.aud)
			fromLifetime, ok := eff.Lookup(c.api, "Standard")
			if !ok || fromLifetime.Lifetime.Duration != c.want {
				t.Fatalf("internal/lifetime says %+v, test expects %s", fromLifetime, c.want)
			}
			if got := lifetimeOf(t, tok.AccessToken); got != c.want {
				t.Errorf("exp - iat = %s, want %s (%s)", got, c.want, fromLifetime.Lifetime.BoundBy)
			}
			if got := time.Until(tok.Expiry).Round(time.Minute); tok.Expiry.IsZero() {
				t.Errorf("no expires_in")
			} else {
				_ = got // expires_in is checked exactly below via the raw answer
			}
			h, _ := jwtParts(t, tok.AccessToken)
			if h["alg"] != c.alg {
				t.Errorf("alg = %v, want %s (per-API signingAlgorithm)", h["alg"], c.alg)
			}
			if claims["client_id"] != "m2m.shop" || claims["sub"] != "m2m.shop" || claims["aud"] != c.aud {
				t.Errorf("claims = %v", claims)
			}
		})
	}
	// expires_in agrees with exp - iat, to the second.
	status, body := e.tokenPost(url.Values{"grant_type": {"client_credentials"}, "resource": {"https://orders.acme.test"}, "scope": {"read:orders"}},
		"m2m.shop", issuertest.Secrets["m2m.shop"])
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	if got := time.Duration(body["expires_in"].(float64) * float64(time.Second)); got != 3*time.Hour {
		t.Errorf("expires_in = %s, want 3h", got)
	}
	if got := lifetimeOf(t, body["access_token"].(string)); got != 3*time.Hour {
		t.Errorf("resource= token exp - iat = %s", got)
	}
	_, claims := jwtParts(t, body["access_token"].(string))
	if claims["scope"] != "read:orders" {
		t.Errorf("scope claim = %v", claims["scope"])
	}
}
