package tenant

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
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
		err := dialControl(c.allowLoopback, nil)("tcp", c.address, nil)
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
	reason, msg := fetchDiscovery(context.Background(), clientFor("https://id.example.com", http.ProxyFromEnvironment), local.URL)
	if reason != v1alpha1.ReasonDiscoveryFailed || !strings.Contains(msg, "may not reach") {
		t.Errorf("loopback behind a public issuer name: %s %q", reason, msg)
	}

	// TLS failures say "TLS handshake failed", not the certificate's names.
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	reason, msg = fetchDiscovery(context.Background(), clientFor(tlsSrv.URL, http.ProxyFromEnvironment), tlsSrv.URL)
	if reason != v1alpha1.ReasonDiscoveryFailed || !strings.Contains(msg, "TLS handshake failed") ||
		strings.Contains(msg, "x509") || strings.Contains(msg, "example.com") {
		t.Errorf("untrusted certificate: %s %q", reason, msg)
	}

	// A closed port and an unresolvable name: categories only.
	if _, msg := fetchDiscovery(context.Background(), clientFor("http://127.0.0.1:1", http.ProxyFromEnvironment), "http://127.0.0.1:1"); msg != "discovery request failed: unreachable" {
		t.Errorf("closed port: %q", msg)
	}
	if _, msg := fetchDiscovery(context.Background(), clientFor("https://no-such-host.invalid", http.ProxyFromEnvironment), "https://no-such-host.invalid"); !strings.Contains(msg, "does not resolve") {
		t.Errorf("unresolvable name: %q", msg)
	}
}

// TestDiscoveryThroughAProxyIsGuarded (review of N9): with an egress proxy
// the operator dials only the proxy, so the target is resolved and checked
// before the proxy is asked: a metadata or loopback target never reaches
// it, a public one goes through it.
func TestDiscoveryThroughAProxyIsGuarded(t *testing.T) {
	var asked []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Host)
		http.Error(w, "no", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	viaProxy := func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }
	for _, target := range []string{"http://169.254.169.254", "http://127.0.0.1:9", "http://[::1]:9"} {
		reason, msg := fetchDiscovery(context.Background(), clientFor("https://id.example.com", viaProxy), target)
		if reason != v1alpha1.ReasonDiscoveryFailed || !strings.Contains(msg, "may not reach") {
			t.Errorf("%s through the proxy: %s %q", target, reason, msg)
		}
	}
	if len(asked) != 0 {
		t.Errorf("the proxy was asked for %v", asked)
	}
	// A public address goes to the proxy (which answers 502 here).
	if _, msg := fetchDiscovery(context.Background(), clientFor("http://203.0.113.5", viaProxy), "http://203.0.113.5"); !strings.Contains(msg, "HTTP 502") || len(asked) != 1 {
		t.Errorf("a public target through the proxy: %q, proxy asked for %v", msg, asked)
	}
}

// TestPrivateAddressFailuresAreCoarse (review of N9): for a private
// address a TLS failure is "unreachable" too, so the status does not tell
// a TLS server from nothing at an internal address; for a public one it
// says what to fix.
func TestPrivateAddressFailuresAreCoarse(t *testing.T) {
	tlsErr := &url.Error{Op: "Get", URL: "https://10.0.0.7/", Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}}
	if got := transportError(tlsErr, true); got != "unreachable" {
		t.Errorf("private address, TLS failure: %q", got)
	}
	if got := transportError(tlsErr, false); !strings.Contains(got, "TLS handshake failed") {
		t.Errorf("public address, TLS failure: %q", got)
	}
	var private atomic.Bool
	if err := checkAddress(netip.MustParseAddr("10.0.12.7"), false, &private); err != nil || !private.Load() {
		t.Errorf("a private address: %v, recorded %v", err, private.Load())
	}
}
