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
