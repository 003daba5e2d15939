package issuer

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// dummyHashes hold one hash per bcrypt cost, compared against when the
// username is unknown so that a wrong username costs the same bcrypt time
// as a wrong password. Computed on first use (the manager, same binary,
// never pays for them).
var dummyHashes sync.Map // cost -> []byte

func dummyHashFor(cost int) []byte {
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("idtenant-no-such-user"), cost)
	dummyHashes.Store(cost, h)
	return h
}

// passwordCheckWait is how long a login waits for one of the process's
// password check slots before it is answered "busy".
const passwordCheckWait = 5 * time.Second

// maxUsername bounds what the limiter keys on and what is compared.
const maxUsername = 256

type loginView struct {
	// Request is the sealed authorization request the form carries.
	Request, CSRF, Username, Error string
	// App and Provider tell the user what they sign in to: the
	// Application's and the Tenant's display names (plain text, escaped).
	App, Provider string
	// FormTarget is where a successful login redirects (the redirect
	// URI's origin), allowed in the page's CSP form-action.
	FormTarget string
	Status     int
	// Local shows the username and password form (the tenant has local
	// users); Connections are the upstream providers offered.
	Local       bool
	Connections []connectionLink
}

// connectionLink is one upstream provider's button on the login page.
type connectionLink struct {
	DisplayName, URL string
}

// loginOptions fills in the ways to sign in a login page offers for a
// sealed request.
func (c *config) loginOptions(v *loginView, sealed string) {
	v.Local = len(c.users) > 0 || len(c.connectionOrder) == 0
	for _, conn := range c.connectionOrder {
		v.Connections = append(v.Connections, connectionLink{DisplayName: conn.displayName,
			URL: c.path + pathLoginUpstream + "?c=" + url.QueryEscape(conn.name) + "&r=" + url.QueryEscape(sealed)})
	}
}

// loginPage renders the login form for a sealed authorization request.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	sealed := r.URL.Query().Get("r")
	c := s.cfg.Load()
	flow, err := c.unseal(sealed, s.now())
	if err != nil {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: errLinkExpired})
		return
	}
	// Double-submit CSRF token: the form field must match this cookie and
	// the sealed request, so another site cannot post a login into it.
	csrf := c.csrfFor(sealed)
	http.SetCookie(w, csrfCookieFor(c, csrf, 0))
	view := loginView{Request: sealed, CSRF: csrf, Status: http.StatusOK, App: c.appName(flow.ClientID), Provider: c.displayName,
		FormTarget: cspSource(flow.RedirectURI)}
	c.loginOptions(&view, sealed)
	s.renderLogin(w, view)
}

const (
	errLinkExpired = "This sign-in link has expired or is not valid. Go back to the application and sign in again."
	errTryAgain    = "The sign-in service is briefly unavailable. Try again in a few seconds."
	errCapacity    = "This sign-in service has reached its capacity. Try again later, or tell your administrator."
)

// loginSubmit checks the user's password and, on success, starts the SSO
// session and completes the sealed authorization request.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: "The form could not be read."})
		return
	}
	now := s.now()
	c := s.cfg.Load()
	sealed, user, password := r.PostForm.Get("r"), r.PostForm.Get("username"), r.PostForm.Get("password")
	if len(user) > maxUsername {
		user = user[:maxUsername]
	}
	flow, err := c.unseal(sealed, now)
	if err != nil {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: errLinkExpired})
		return
	}
	cookie, cerr := r.Cookie(c.cookies.csrf)
	if cerr != nil || !c.csrfMatches(sealed, cookie.Value) || !c.csrfMatches(sealed, r.PostForm.Get("csrf")) {
		s.renderLogin(w, loginView{Status: http.StatusForbidden,
			Error: "The sign-in form was not submitted from this page. Reload the page and try again."})
		return
	}
	view := loginView{Request: sealed, CSRF: c.csrfFor(sealed), Username: user, App: c.appName(flow.ClientID), Provider: c.displayName,
		FormTarget: cspSource(flow.RedirectURI)}
	c.loginOptions(&view, sealed)
	addr := c.trustedProxies.clientAddress(r)
	v := s.limiter.Admit(user, addr, c.csrfFor(sealed), now)
	switch {
	case v.Exhausted:
		s.metrics.loginFailures.Inc()
		s.renderLogin(w, loginView{Status: http.StatusTooManyRequests,
			Error: "Too many attempts with this sign-in link. Go back to the application and sign in again."})
		return
	case v.Wait > 0:
		s.metrics.loginFailures.Inc()
		view.Status = http.StatusTooManyRequests
		secs := int(math.Ceil(v.Wait.Seconds()))
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		view.Error = fmt.Sprintf("Too many failed attempts. Wait %d seconds before trying again.", secs)
		s.renderLogin(w, view)
		return
	}
	entry, known := c.users[user]
	hash := entry.hash
	if !known {
		hash = dummyHashFor(c.dummyCost)
	}
	slot, free := s.limiter.WaitForCheck(r.Context(), passwordCheckWait)
	if !free {
		v.Release()
		w.Header().Set("Retry-After", "5")
		view.Status, view.Error = http.StatusServiceUnavailable, "The sign-in service is busy. Try again in a few seconds."
		s.renderLogin(w, view)
		return
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && known
	slot()
	v.Release()
	if !ok {
		s.limiter.Fail(user, addr, now)
		s.metrics.loginFailures.Inc()
		s.log.Info("login failed") // no username: it may be a mistyped password
		view.Status = http.StatusUnauthorized
		view.Error = "Wrong username or password."
		s.renderLogin(w, view)
		return
	}
	s.limiter.Succeed(user, addr)
	s.finishLogin(w, r, c, flow, view, loginIdentity{subject: entry.subject, fingerprint: c.fingerprints[entry.subject]}, now)
}

// loginIdentity is who just logged in: a local user (sealed empty) or an
// upstream connection's user (their attributes sealed).
type loginIdentity struct {
	subject, fingerprint, sealed string
}

// finishLogin starts the SSO session of a user who just proved who they
// are, replacing the browser's previous one, and completes the sealed
// authorization request. view is the page to show should that fail.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, c *config, flow *authFlow, view loginView, who loginIdentity, now time.Time) {
	ctx := r.Context()
	// A new login replaces the browser's previous session (prompt=login,
	// max_age, or another user).
	old, err := s.sessionFromHeader(ctx, c, r.Header, now)
	if err == nil && old != nil {
		err = s.endSession(ctx, old, "Relogin")
	}
	if err != nil {
		_ = s.unavailable("end previous session", err)
		view.Status, view.Error = http.StatusServiceUnavailable, errTryAgain
		s.renderLogin(w, view)
		return
	}
	value, ls, err := s.startSession(ctx, c, who, now)
	if err != nil {
		_ = s.unavailable("start session", err)
		view.Status, view.Error = http.StatusServiceUnavailable, errTryAgain
		if errors.Is(err, store.ErrQuota) {
			view.Error = errCapacity
		}
		s.renderLogin(w, view)
		return
	}
	s.log.Info("session started", "sid", ls.SID, "client", flow.ClientID, "connection", ls.person.Connection)
	http.SetCookie(w, sessionCookieFor(c, value, 0))
	http.SetCookie(w, csrfCookieFor(c, "", -1))
	redirect, err := s.complete(ctx, c, flow, ls, now)
	if err != nil {
		if redirect = s.errorRedirect(ctx, w, flow, err); redirect == nil {
			return
		}
	}
	http.Redirect(w, r, redirect.URL, http.StatusSeeOther)
}

func (s *Server) renderLogin(w http.ResponseWriter, v loginView) {
	securityHeaders(w.Header(), v.FormTarget)
	w.WriteHeader(v.Status)
	if err := loginTemplate.Execute(w, v); err != nil {
		s.log.Error("rendering login page", "error", err)
	}
}

var loginTemplate = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .App}}Sign in to {{.App}}{{else}}Sign in{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;justify-content:center;background:#f4f5f7;color:#111}
main{background:#fff;margin-top:10vh;padding:2rem;border-radius:8px;max-width:22rem;width:100%;box-shadow:0 1px 4px rgba(0,0,0,.15)}
label{display:block;margin-top:1rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.6rem;margin-top:.3rem;font-size:1rem;border:1px solid #666;border-radius:4px}
input:focus,button:focus{outline:3px solid #1a5fb4;outline-offset:2px}
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;background:#1a5fb4;color:#fff;border:0;border-radius:4px;cursor:pointer}
.error{color:#a51d2d;background:#fdecea;padding:.6rem;border-radius:4px}
.or{text-align:center;color:#555;margin:1.2rem 0 .4rem}
.connections{list-style:none;padding:0;margin:0}
a.connection{display:block;margin-top:.6rem;padding:.65rem;text-align:center;border:1px solid #1a5fb4;border-radius:4px;color:#1a5fb4;text-decoration:none;font-weight:600}
a.connection:focus{outline:3px solid #1a5fb4;outline-offset:2px}
</style>
</head>
<body>
<main>
<h1>Sign in</h1>
{{if .App}}<p id="signing-in-to">to continue to <strong>{{.App}}</strong>{{if .Provider}} with your <strong>{{.Provider}}</strong> account{{end}}</p>{{end}}
{{if .Error}}<p class="error" id="login-error" role="alert">{{.Error}}</p>{{end}}
{{if and .Request .Local}}<form method="post" action="login" novalidate>
<input type="hidden" name="r" value="{{.Request}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="{{.Username}}"{{if .Error}} aria-describedby="login-error" aria-invalid="true"{{end}}{{if not .Username}} autofocus{{end}}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{{if .Error}} aria-describedby="login-error" aria-invalid="true"{{end}}{{if .Username}} autofocus{{end}}>
<button type="submit">Sign in</button>
</form>{{end}}
{{if and .Request .Connections}}{{if .Local}}<p class="or">or</p>{{end}}<ul class="connections">
{{range .Connections}}<li><a class="connection" href="{{.URL}}">Continue with {{.DisplayName}}</a></li>
{{end}}</ul>{{end}}
</main>
</body>
</html>
`))
