package issuer

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies are the peers whose forwarding headers the issuer
// believes (spec.trustedProxies). Empty: none, every request is counted at
// its peer's address.
type trustedProxies []netip.Prefix

// compileTrustedProxies parses spec.trustedProxies: CIDRs or single
// addresses (admission checks both; an older API server may not have).
func compileTrustedProxies(entries []string) (trustedProxies, error) {
	out := make(trustedProxies, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("tenant.spec.trustedProxies: %q is neither a CIDR nor an IP address", e)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (t trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddress is the address password guessing is limited by: the peer,
// unless the peer is a trusted proxy. Then it is the rightmost hop of
// X-Forwarded-For or of Forwarded (whichever the request has; with both,
// the peer is taken, since one of them is the client's own) that is not a
// trusted proxy: what the nearest untrusted party connected from. Entries to its
// left are whatever the client sent and are never read, so a client
// cannot choose its address, and a private address is a real address
// like any other. IPv6 clients are counted per /64, the block one
// subscriber usually holds.
func (t trustedProxies) clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if len(t) > 0 && t.contains(ip) && !(len(r.Header.Values("X-Forwarded-For")) > 0 && len(r.Header.Values("Forwarded")) > 0) {
		// With both headers, one is the client's own (the proxy writes
		// one kind) and nothing says which: the peer is taken instead.
		hops := forwardedHops(r.Header)
		for i := len(hops) - 1; i >= 0; i-- {
			if !hops[i].IsValid() {
				break // a hop no trusted proxy wrote: keep the last good one
			}
			ip = hops[i].Unmap()
			if !t.contains(ip) {
				break
			}
		}
	}
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

// forwardedHops are the addresses a request passed through, oldest first:
// X-Forwarded-For's entries, or Forwarded's (RFC 7239) "for" parameters
// when there is no X-Forwarded-For. An entry that is not an address
// ("unknown", an obfuscated name, garbage) is the zero Addr.
func forwardedHops(h http.Header) []netip.Addr {
	var raw []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		raw = strings.Split(strings.Join(xff, ","), ",")
	} else {
		for _, element := range strings.Split(strings.Join(h.Values("Forwarded"), ","), ",") {
			forParam := ""
			for _, pair := range strings.Split(element, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(k, "for") {
					forParam = v
				}
			}
			raw = append(raw, forwardedNode(forParam))
		}
	}
	hops := make([]netip.Addr, len(raw))
	for i, s := range raw {
		s = strings.TrimSpace(s)
		if a, err := netip.ParseAddr(s); err == nil {
			hops[i] = a
		} else if ap, err := netip.ParseAddrPort(s); err == nil {
			hops[i] = ap.Addr() // some proxies append the client's port
		}
	}
	return hops
}

// forwardedNode reduces a Forwarded "for" value (RFC 7239 section 6:
// 192.0.2.43, "192.0.2.43:47011", "[2001:db8:cafe::17]:4711") to the
// address, or "" when it names none.
func forwardedNode(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if strings.HasPrefix(v, "[") {
		if end := strings.Index(v, "]"); end > 0 {
			return v[1:end]
		}
		return ""
	}
	if host, _, err := net.SplitHostPort(v); err == nil {
		return host
	}
	return v
}
