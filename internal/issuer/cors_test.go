package issuer

import (
	"net/http"
	"testing"
)

func TestCORSFollowsAllowedOrigins(t *testing.T) {
	e := newEnv(t, nil)
	for origin, allowed := range map[string]bool{"https://spa.acme.test": true, "https://evil.test": false} {
		req, _ := http.NewRequest(http.MethodOptions, e.issuer+PathToken, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("%s: allowed=%v, want %v", origin, got, allowed)
		}
	}
}
