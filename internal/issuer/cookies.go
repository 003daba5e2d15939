package issuer

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// Cookie names. On an https issuer they carry the __Host- prefix, which
// browsers accept only with Secure, Path=/ and no Domain: a sibling
// subdomain (or a plain-http page on the same host) can then neither set
// nor overwrite them, so nobody can plant a session or a CSRF token.
const (
	sessionCookie = "idtenant_session"
	csrfCookie    = "idtenant_csrf"
)

// cookies are the names and paths of this configuration's cookies.
type cookies struct {
	session, csrf         string
	sessionPath, csrfPath string
}

// cookieNames derives the cookie names and paths for an issuer URL.
// __Host- cookies must have Path=/, so tenants served under different
// paths of one host get names of their own (a digest of the path).
func cookieNames(secure bool, path string) cookies {
	if !secure {
		root := path
		if root == "" {
			root = "/"
		}
		return cookies{session: sessionCookie, csrf: csrfCookie, sessionPath: root, csrfPath: path + pathLogin}
	}
	suffix := ""
	if path != "" {
		sum := sha256.Sum256([]byte(path))
		suffix = "_" + hex.EncodeToString(sum[:4])
	}
	return cookies{session: "__Host-" + sessionCookie + suffix, csrf: "__Host-" + csrfCookie + suffix, sessionPath: "/", csrfPath: "/"}
}

// sessionCookieFor renders the SSO cookie: host-only (no Domain), HttpOnly,
// SameSite=Lax so top-level redirects from applications carry it, Secure
// (and __Host-) on an https issuer. It has no Max-Age: the server-side
// record decides.
func sessionCookieFor(c *config, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: c.cookies.session, Value: value, Path: c.cookies.sessionPath, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}

// csrfCookieFor renders the login form's double-submit cookie: SameSite
// Strict, so no other site's request carries it.
func csrfCookieFor(c *config, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: c.cookies.csrf, Value: value, Path: c.cookies.csrfPath, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode,
	}
}
