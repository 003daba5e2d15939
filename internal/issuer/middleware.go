package issuer

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Request limits: OAuth requests are small; anything larger is refused
// before parsing.
const (
	maxBodyBytes  = 16 << 10
	maxQueryBytes = 8 << 10
)

var knownEndpoints = map[string]string{
	pathAuthorize: "authorize", PathToken: "token", pathIntrospect: "introspect",
	pathRevoke: "revoke", pathUserinfo: "userinfo", pathEndSession: "end_session",
	pathKeys: "keys", pathLogin: "login", PathHealth: "healthz", PathReady: "ready",
	pathLoginUpstream: "login_upstream", pathLoginCallback: "login_callback",
	"/.well-known/openid-configuration": "discovery",
}

var postOnly = map[string]bool{PathToken: true, pathIntrospect: true, pathRevoke: true}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	// Every 503 the issuer sends means "the state store is unreachable,
	// nothing was issued": tell clients when to try again.
	if code == http.StatusServiceUnavailable && r.Header().Get("Retry-After") == "" {
		r.Header().Set("Retry-After", retryAfterSeconds)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// middleware strips the issuer URL's path, bounds request sizes, turns a
// panic into a 500 without crashing or leaking, and records latency.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // latency is wall time, not the injected clock
		rec := &statusRecorder{ResponseWriter: w}
		endpoint := "other"
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("request handler panicked", "endpoint", endpoint, "panic", panicText(p))
				if rec.code == 0 {
					http.Error(rec, `{"error":"server_error"}`, http.StatusInternalServerError)
				}
			}
			s.metrics.latency.WithLabelValues(endpoint, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
		}()
		if prefix := s.cfg.Load().path; prefix != "" {
			rest, ok := strings.CutPrefix(r.URL.Path, prefix)
			if !ok || (rest != "" && rest[0] != '/') {
				http.NotFound(rec, r)
				return
			}
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path, u.RawPath = rest, ""
			r2.URL = &u
			r = r2
		}
		if name, ok := knownEndpoints[r.URL.Path]; ok {
			endpoint = name
		}
		if postOnly[r.URL.Path] && r.Method != http.MethodPost && r.Method != http.MethodOptions {
			// RFC 6749 3.2, RFC 7662 2.1, RFC 7009 2.1: credentials and
			// tokens travel in a POST body, never in a URL that logs keep.
			rec.Header().Set("Allow", "POST")
			http.Error(rec, `{"error":"invalid_request","error_description":"use POST"}`, http.StatusMethodNotAllowed)
			return
		}
		if postOnly[r.URL.Path] && r.URL.RawQuery != "" {
			// The form parser would merge the query into the form: a client
			// secret, code or token in a URL ends up in access logs and
			// browser history, so it is refused, not ignored.
			http.Error(rec, `{"error":"invalid_request","error_description":"parameters of this endpoint travel in the POST body, never in the URL"}`, http.StatusBadRequest)
			return
		}
		if len(r.URL.RawQuery) > maxQueryBytes {
			http.Error(rec, `{"error":"invalid_request","error_description":"query too long"}`, http.StatusRequestURITooLong)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, maxBodyBytes)
		rec.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(rec, r)
	})
}

// panicText names the panic's type only: its value may hold request data.
func panicText(p any) string {
	switch p.(type) {
	case error:
		return "error"
	case string:
		return "string"
	default:
		return "other"
	}
}

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

// ownPage: the issuer's own login, consent and signed-out pages are not
// authorization responses (an application may live on the issuer's host).
func (w *issWriter) ownPage(loc string) bool {
	return strings.HasPrefix(loc, w.issuer+pathLogin+"?") || loc == w.issuer+pathLogin ||
		strings.HasPrefix(loc, w.issuer+pathConsent+"?") || strings.HasPrefix(loc, w.issuer+pathLoggedOut)
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
