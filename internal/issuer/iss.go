package issuer

import (
	"net/http"
	"net/url"
	"strings"
)

// withIss adds the iss parameter (RFC 9207) to every authorization
// response the wrapped handler redirects to an application: codes, tokens
// and errors alike, in the query or, for fragment responses, the fragment.
// A client talking to several issuers can then tell which one answered
// (mix-up attacks). Discovery advertises it.
func (s *Server) withIss(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&issWriter{ResponseWriter: w, issuer: s.cfg.Load().issuer}, r)
	})
}

type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (w *issWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		if loc := w.Header().Get("Location"); loc != "" && !w.ownPage(loc) {
			w.Header().Set("Location", withIssParam(loc, w.issuer))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// ownPage: the issuer's own login and signed-out pages are not
// authorization responses (an application may live on the issuer's host).
func (w *issWriter) ownPage(loc string) bool {
	return strings.HasPrefix(loc, w.issuer+pathLogin+"?") || loc == w.issuer+pathLogin || strings.HasPrefix(loc, w.issuer+pathLoggedOut)
}

// withIssParam appends iss to the query or, for fragment responses, the
// fragment, without decoding and re-encoding what is there (that would
// turn a '+' in state into a space, or let an '&' in it split the value).
func withIssParam(loc, issuer string) string {
	base, fragment, hasFragment := strings.Cut(loc, "#")
	param := "iss=" + url.QueryEscape(issuer)
	if hasFragment && fragment != "" {
		if hasParam(fragment, "iss") {
			return loc
		}
		return base + "#" + fragment + "&" + param
	}
	path, query, _ := strings.Cut(base, "?")
	if hasParam(query, "iss") {
		return loc
	}
	if query == "" {
		return path + "?" + param
	}
	return path + "?" + query + "&" + param
}

func hasParam(raw, name string) bool {
	for _, kv := range strings.Split(raw, "&") {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}
