package issuer

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// Who may sign in through a connection (security review N3): an upstream
// such as Google or GitLab.com authenticates anyone who registers there,
// so a connection may admit only verified addresses of its
// allowedDomains and members of its allowedGroups. The rule is applied at
// login and again at every use of a session or refresh family
// (personOf), so narrowing it ends the sessions it no longer admits
// without touching the others.

// errNotAdmitted refuses a login the connection's allow-lists do not admit.
var errNotAdmitted = errors.New("the connection's allowedDomains or allowedGroups do not admit this user")

// googleIssuer is Google's, whose "hd" claim and parameter name the
// Google Workspace domain of an account.
const googleIssuer = "https://accounts.google.com"

// admits reports whether the connection's allow-lists admit p.
func (conn *connection) admits(p *person) bool {
	if len(conn.allowedDomains) > 0 {
		_, domain, ok := strings.Cut(p.Email, "@")
		if !ok || !p.EmailVerified || !slices.Contains(conn.allowedDomains, strings.ToLower(domain)) {
			return false
		}
		if p.HostedDomain != "" && !slices.Contains(conn.allowedDomains, strings.ToLower(p.HostedDomain)) {
			return false
		}
		if conn.issuer == googleIssuer && p.HostedDomain == "" {
			return false // a consumer account whose address merely looks right
		}
	}
	if len(conn.allowedGroups) > 0 {
		member := false
		for _, g := range p.Groups {
			if slices.Contains(conn.allowedGroups, strings.TrimPrefix(g, conn.groupsPrefix)) {
				member = true
				break
			}
		}
		if !member {
			return false
		}
	}
	return true
}

// hostedDomainHint is the "hd" parameter a Google connection restricted to
// one domain sends, so that Google offers only that domain's accounts (a
// hint for the user: the hd claim is what is checked).
func (conn *connection) hostedDomainHint() string {
	if conn.issuer == googleIssuer && len(conn.allowedDomains) == 1 {
		return conn.allowedDomains[0]
	}
	return ""
}

// loginDeadline is when a login of p at authTime ends under its
// connection's maxAge; zero for local users and connections without one.
// The upstream is asked only at login, so this bounds how long a user it
// disabled keeps access (security review N5).
func (c *config) loginDeadline(p *person, authTime time.Time) time.Time {
	if p == nil || p.Connection == "" {
		return time.Time{}
	}
	if conn, ok := c.connections[p.Connection]; ok && conn.maxAge > 0 {
		return authTime.Add(conn.maxAge)
	}
	return time.Time{}
}
