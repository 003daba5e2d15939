package tenant

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
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
//     versus "timed out" to tell open ports from closed ones.

// errAddressRefused is a connection the guard refused.
var errAddressRefused = errors.New("refused address")

// dialControl refuses the addresses discovery may not reach; loopback is
// allowed when allowLoopback (the issuer URL names a loopback host).
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", errAddressRefused, address)
		}
		ip := ap.Addr().Unmap()
		switch {
		case ip.IsLoopback() && allowLoopback:
			return nil
		case ip.IsLoopback(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsMulticast(),
			ip.IsInterfaceLocalMulticast(), ip.IsUnspecified():
			return errAddressRefused
		}
		return nil
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

// transportError says by category why a discovery request failed.
func transportError(err error) string {
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
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &unknownAuthority), errors.As(err, &recordErr):
		return "the TLS handshake failed (no certificate valid for this host from a trusted authority)"
	case errors.As(err, &ue) && ue.Timeout():
		return "unreachable"
	}
	return "unreachable"
}
