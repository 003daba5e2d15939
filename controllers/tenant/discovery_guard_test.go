package tenant

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestDiscoveryIsNoNetworkProbe (security review N9): the operator's
// discovery check reaches no link-local (metadata), multicast or
// unspecified address, and loopback only for a loopback issuer URL; it
// reports failures by category, never the network's or the TLS stack's
// own words (certificate names, refused versus timed out).
func TestDiscoveryIsNoNetworkProbe(t *testing.T) {
	for _, c := range []struct {
		address       string
		allowLoopback bool
		refused       bool
	}{
		{"169.254.169.254:80", false, true},
		{"[fe80::1]:443", false, true},
		{"0.0.0.0:443", false, true},
		{"224.0.0.1:443", false, true},
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"127.0.0.1:8080", true, false},
		{"169.254.169.254:80", true, true},
		{"10.0.12.7:443", false, false}, // an in-cluster identity provider
		{"203.0.113.5:443", false, false},
	} {
		err := dialControl(c.allowLoopback)("tcp", c.address, nil)
		if got := errors.Is(err, errAddressRefused); got != c.refused {
			t.Errorf("dial %s (loopback allowed %v): refused %v, want %v", c.address, c.allowLoopback, got, c.refused)
		}
	}

	// A name an editor controls that resolves to loopback, as a rebinding
	// attack would: refused, said so.
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the discovery check reached a loopback service for a non-loopback issuer")
	}))
	t.Cleanup(local.Close)
	reason, msg := fetchDiscovery(context.Background(), clientFor("https://id.example.com"), local.URL)
	if reason != v1alpha1.ReasonDiscoveryFailed || !strings.Contains(msg, "may not reach") {
		t.Errorf("loopback behind a public issuer name: %s %q", reason, msg)
	}

	// TLS failures say "TLS handshake failed", not the certificate's names.
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	reason, msg = fetchDiscovery(context.Background(), clientFor(tlsSrv.URL), tlsSrv.URL)
	if reason != v1alpha1.ReasonDiscoveryFailed || !strings.Contains(msg, "TLS handshake failed") ||
		strings.Contains(msg, "x509") || strings.Contains(msg, "example.com") {
		t.Errorf("untrusted certificate: %s %q", reason, msg)
	}

	// A closed port and an unresolvable name: categories only.
	if _, msg := fetchDiscovery(context.Background(), clientFor("http://127.0.0.1:1"), "http://127.0.0.1:1"); msg != "discovery request failed: unreachable" {
		t.Errorf("closed port: %q", msg)
	}
	if _, msg := fetchDiscovery(context.Background(), clientFor("https://no-such-host.invalid"), "https://no-such-host.invalid"); !strings.Contains(msg, "does not resolve") {
		t.Errorf("unresolvable name: %q", msg)
	}
}
