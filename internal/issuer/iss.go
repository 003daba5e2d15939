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
		if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, w.issuer+"/") {
			w.Header().Set("Location", withIssParam(loc, w.issuer))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func withIssParam(loc, issuer string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	if u.Fragment != "" {
		v, err := url.ParseQuery(u.Fragment)
		if err != nil || v.Has("iss") {
			return loc
		}
		v.Set("iss", issuer)
		u.Fragment = ""
		return u.String() + "#" + v.Encode()
	}
	q := u.Query()
	if q.Has("iss") {
		return loc
	}
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String()
}
