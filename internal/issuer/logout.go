package issuer

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// logoutPage answers GET /logout. With a valid id_token_hint (an ID token
// this issuer signed, expired or not) the request comes from an
// application that had a session here, and the library ends the session.
// Without one anyone could end a user's session from another site with a
// mere link or <img>, so the user is asked to confirm with a form that
// posts back (the session cookie is SameSite=Lax: a cross-site POST does
// not carry it, and the Origin check below refuses it anyway).
func (s *Server) logoutPage(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := s.cfg.Load()
		q := r.URL.Query()
		var claims idClaims
		if hint := q.Get("id_token_hint"); hint != "" && c.verifyJWT(hint, "JWT", &claims) == nil && claims.Issuer == c.issuer {
			// Only a hint about this browser's own user ends its session
			// unasked: anybody holds some ID token of this issuer.
			ls, err := s.sessionFromHeader(r.Context(), c, r.Header, s.now())
			if err != nil || ls == nil || ls.Subject == claims.Subject {
				next.ServeHTTP(w, r)
				return
			}
		}
		fields := url.Values{}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state", "ui_locales"} {
			if v := q.Get(k); v != "" {
				fields.Set(k, v)
			}
		}
		target := ""
		if cl, ok := c.clients[fields.Get("client_id")]; ok && slices.Contains(cl.postLogoutURIs, fields.Get("post_logout_redirect_uri")) {
			target = cspSource(fields.Get("post_logout_redirect_uri"))
		}
		securityHeaders(w.Header(), target)
		w.WriteHeader(http.StatusOK)
		if err := logoutTemplate.Execute(w, logoutView{Fields: fields, Provider: c.displayName}); err != nil {
			s.log.Error("rendering logout page", "error", err)
		}
	}
}

// logoutSubmit answers POST /logout: only from this issuer's own pages
// (or clients that send no Origin, such as server-side logout calls).
func (s *Server) logoutSubmit(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, s.cfg.Load().issuer) {
			s.renderLogin(w, loginView{Status: http.StatusForbidden, Error: "Sign-out must be confirmed on this site."})
			return
		}
		next.ServeHTTP(w, r)
	}
}

func sameOrigin(origin, issuer string) bool {
	u, err := url.Parse(origin)
	return err == nil && normalOrigin(u) == issuerOrigin(issuer)
}

type logoutView struct {
	Fields   url.Values
	Provider string
}

func issuerOrigin(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return normalOrigin(u)
}

// normalOrigin is scheme://host[:port] as browsers send Origin: lower
// case, without the scheme's default port.
func normalOrigin(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// securityHeaders are sent with every HTML page: no caching, no framing
// (clickjacking), no referrer, no script, forms only to this issuer — and
// to formTarget, where the form's answer redirects (browsers apply
// form-action to redirects too: without it Chromium blocks the redirect of
// a successful login to the application).
func securityHeaders(h http.Header, formTarget string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
}

// cspSource is a redirect URI as a CSP source expression: its origin for
// http(s), its scheme for a native app's private-use scheme. "" when the
// URI cannot be expressed safely (the form then only posts to the issuer).
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || strings.ContainsAny(uri, " ;,'\"") {
		return ""
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		if u.Host == "" {
			return ""
		}
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

var logoutTemplate = template.Must(template.New("logout").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign out</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;justify-content:center;background:#f4f5f7;color:#111}
main{background:#fff;margin-top:10vh;padding:2rem;border-radius:8px;max-width:22rem;width:100%;box-shadow:0 1px 4px rgba(0,0,0,.15)}
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#1a5fb4;color:#fff;border:0;border-radius:4px;cursor:pointer}
button:focus{outline:3px solid #1a5fb4;outline-offset:2px}
</style>
</head>
<body>
<main>
<h1>Sign out?</h1>
<p>You are about to sign out of <strong>{{.Provider}}</strong>.</p>
<form method="post" action="logout">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<button type="submit" autofocus>Sign out</button>
</form>
</main>
</body>
</html>
`))
