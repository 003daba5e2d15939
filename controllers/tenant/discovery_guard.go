package tenant

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync/atomic"
	"syscall"
)

// The operator fetches each connection's discovery document from the
// host a Tenant editor names (security review N9): it must not become a
// probe of what the operator's network can reach. So the check
//
//   - connects only to addresses an identity provider can have: never
//     link-local ones (169.254.0.0/16 holds cloud metadata services),
//     multicast or unspecified ones, and loopback ones only when the
//     issuer URL itself names a loopback host (local development). Private
//     addresses stay allowed: an in-cluster Keycloak is one. The address
//     is checked after name resolution, on the connection itself, so a
//     name that resolves elsewhere later (DNS rebinding) is caught too;
//   - reports a failure by category (the name does not resolve, the TLS
//     handshake failed, unreachable, refused address), never the
//     network's own words: no certificate names, no "connection refused"
//     versus "timed out" to tell open ports from closed ones, and for a
//     private address no "TLS handshake failed" versus "unreachable";
//   - checks the target's addresses before handing the request to an
//     egress proxy (HTTPS_PROXY), which would otherwise dial for it.

// errAddressRefused is a connection the guard refused.
var errAddressRefused = errors.New("refused address")

// dialControl refuses the addresses discovery may not reach; loopback is
// allowed when allowLoopback (the issuer URL names a loopback host). A
// private address it lets through is recorded in private (when not nil).
func dialControl(allowLoopback bool, private *atomic.Bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", errAddressRefused, address)
		}
		return checkAddress(ap.Addr(), allowLoopback, private)
	}
}

// checkAddress is dialControl's verdict on one address.
func checkAddress(ip netip.Addr, allowLoopback bool, private *atomic.Bool) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback() && allowLoopback:
		return nil
	case ip.IsLoopback(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsMulticast(),
		ip.IsInterfaceLocalMulticast(), ip.IsUnspecified():
		return errAddressRefused
	case ip.IsPrivate() && private != nil:
		private.Store(true)
	}
	return nil
}

// guardedProxy is base (the environment's HTTPS_PROXY, normally) with the
// dial guard applied to the target: through a proxy the operator dials
// only the proxy, so the target's addresses are resolved and checked here
// first. (The proxy resolves the name again: a name that changes its
// answer in between is the proxy's to refuse.)
func guardedProxy(base func(*http.Request) (*url.URL, error), allowLoopback bool, private *atomic.Bool) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		proxy, err := base(req)
		if err != nil || proxy == nil {
			return proxy, err
		}
		addrs, err := net.DefaultResolver.LookupNetIP(req.Context(), "ip", req.URL.Hostname())
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if err := checkAddress(a, allowLoopback, private); err != nil {
				return nil, err
			}
		}
		return proxy, nil
	}
}

// loopbackIssuer reports whether an issuer URL names a loopback host.
func loopbackIssuer(issuerURL string) bool {
	u, err := url.Parse(issuerURL)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err == nil && ip.IsLoopback()
}

// transportError says by category why a discovery request failed. For a
// private address a TLS failure reads as "unreachable" too: that a TLS
// server answers at some internal address is itself what a probe would
// learn.
func transportError(err error, private bool) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var unknownAuthority x509.UnknownAuthorityError
	var recordErr tls.RecordHeaderError
	var ue *url.Error
	switch {
	case errors.Is(err, errAddressRefused):
		return "the issuer's host resolves to an address discovery may not reach (loopback, link-local or metadata)"
	case errors.As(err, &dnsErr):
		return "the issuer's host name does not resolve"
	case private:
		return "unreachable"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &unknownAuthority), errors.As(err, &recordErr):
		return "the TLS handshake failed (no certificate valid for this host from a trusted authority)"
	case errors.As(err, &ue) && ue.Timeout():
		return "unreachable"
	}
	return "unreachable"
}
