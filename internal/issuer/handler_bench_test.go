package issuer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

// BenchmarkTokenHandler measures the issuer's own CPU per client_credentials
// token (no network), to see what besides signing a request costs.
func BenchmarkTokenHandler(b *testing.B) {
	s := fuzzServer(b)
	for _, c := range []struct{ alg, aud string }{{"RS256", "https://orders.acme.test"}, {"ES256", "https://payments.acme.test"}} {
		b.Run(c.alg, func(b *testing.B) {
			body := url.Values{"grant_type": {"client_credentials"}, "audience": {c.aud}}.Encode()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("m2m.shop", issuertest.Secrets["m2m.shop"])
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code, rec.Body)
				}
			}
		})
	}
}
