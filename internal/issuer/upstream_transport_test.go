package issuer

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// TestUpstreamAnswersAreBounded (security review N10): an upstream that
// answers discovery with megabytes (here an error page of 3 MiB) costs the
// issuer at most maxUpstreamBody of reading, and the error the login
// logs stays short and printable, whatever go-oidc quotes of the body.
func TestUpstreamAnswersAreBounded(t *testing.T) {
	huge := strings.Repeat("internal admin console\n", (3<<20)/23)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, huge)
	}))
	t.Cleanup(srv.Close)
	u := newUpstreams(func() time.Time { return time.Now() })

	resp, err := u.client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, errUpstreamBodyTooLarge) || len(body) > maxUpstreamBody {
		t.Fatalf("read %d bytes of a %d-byte answer, error %v; want at most %d and errUpstreamBodyTooLarge", len(body), len(huge), err, maxUpstreamBody)
	}

	_, err = gooidc.NewProvider(u.context(t.Context()), srv.URL)
	if err == nil {
		t.Fatal("discovery of an upstream answering 500 succeeded")
	}
	logged := loggedUpstreamError(fmt.Errorf("discovery of %s: %w", srv.URL, err))
	if len(logged) > maxLoggedUpstreamError+len("…") || strings.ContainsAny(logged, "\n\r") {
		t.Errorf("logged upstream error of %d bytes (%q...), want at most %d, one line", len(logged), logged[:min(80, len(logged))], maxLoggedUpstreamError)
	}
}

// TestUpstreamEndpointsMustBeHTTPS (security review N9): an https
// upstream's discovery may not send the client secret or key fetches to
// a plain http endpoint (an internal service, say).
func TestUpstreamEndpointsMustBeHTTPS(t *testing.T) {
	ok := []string{"https://id.corp.test/auth", "https://id.corp.test/token", "https://id.corp.test/keys"}
	if err := endpointsSafe("https://id.corp.test", ok...); err != nil {
		t.Errorf("https endpoints: %v", err)
	}
	if err := endpointsSafe("https://id.corp.test", ok[0], "http://10.0.0.7/token", ok[2]); err == nil {
		t.Error("an http token endpoint of an https upstream was accepted")
	}
	if err := endpointsSafe("https://id.corp.test", ok[0], ok[1], ""); err == nil {
		t.Error("a missing jwks_uri was accepted")
	}
	if err := endpointsSafe("http://127.0.0.1:5556", "http://127.0.0.1:5556/auth", "http://127.0.0.1:5556/token", "http://127.0.0.1:5556/keys"); err != nil {
		t.Errorf("a loopback development upstream: %v", err)
	}
}
