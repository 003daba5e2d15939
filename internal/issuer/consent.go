package issuer

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
)

// A third-party Application (spec.thirdParty, or one the Tenant's
// spec.consent covers) receives nothing about a user until that user
// allowed it on the consent page (security review
// N8): the page names the application and each thing it asks for, and the
// answer is kept per user and application in the state store, so the user
// is asked once, not at every sign-in.

const (
	// pathConsent lives under pathLogin so that the login page's CSRF
	// cookie, scoped to that path on a shared host, reaches it too.
	pathConsent = pathLogin + "/consent"
	// consentLifetime is how long an answer is remembered: after it the
	// user is asked again, and the record may be collected.
	consentLifetime = 365 * 24 * time.Hour
	// purposeConsent keys sealed consent requests, so that a login page's
	// sealed request is never taken for an answered consent page.
	purposeConsent = "consent"
)

// consentScopes are what a grant of scopes for audience releases, as a
// consent record holds them: openid always (signing in at all releases the
// user's subject and, for a connection's user, their upstream account), the
// audience itself when there is one (the API receives the user's
// attributes its userClaims name, whatever the scopes), identity scopes as
// they are, and an API's scopes qualified by its audience, so that
// allowing orders:read at one API is not allowing it at another.
func consentScopes(scopes []string, audience string) []string {
	out := []string{oidc.ScopeOpenID}
	if audience != "" {
		out = append(out, audience)
	}
	for _, sc := range scopes {
		switch {
		case sc == oidc.ScopeOpenID:
		case slices.Contains(userScopes, sc):
			out = append(out, sc)
		default:
			out = append(out, audience+" "+sc)
		}
	}
	return out
}

// consentCovers reports whether the user's answer rec, at now, allows
// every scope of want.
func consentCovers(rec store.Consent, want []string, now time.Time) bool {
	if !now.Before(rec.ExpiresAt) {
		return false
	}
	for _, sc := range want {
		if !slices.Contains(rec.Scopes, sc) {
			return false
		}
	}
	return true
}

// consentAllows reports whether subject's answer to cl allows what a grant
// of scopes for audience releases (true for applications that do not ask).
func (s *Server) consentAllows(ctx context.Context, c *config, cl *client, subject string, scopes []string, audience string, now time.Time) (bool, error) {
	if !cl.asksConsent {
		return true, nil
	}
	rec, err := s.store.Consents().Get(ctx, c.consentKey(subject, cl.id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return consentCovers(rec.Value, consentScopes(scopes, audience), now), nil
}

// consentKey names a user's answer to one application.
func (c *config) consentKey(subject, clientID string) string {
	return c.key(store.KindConsent, subject+"\x00"+clientID)
}

// needsConsent reports whether flow, for a third-party application, asks
// for something the session's user has not allowed (or prompt=consent asks
// again). First-party applications never need consent.
func (s *Server) needsConsent(ctx context.Context, c *config, cl *client, flow *authFlow, ls *liveSession, now time.Time) (bool, error) {
	if !cl.asksConsent || flow.consented {
		return false, nil
	}
	if slices.Contains(flow.Prompt, oidc.PromptConsent) {
		return true, nil
	}
	allowed, err := s.consentAllows(ctx, c, cl, ls.Subject, flow.Scopes, flow.Audience, now)
	return !allowed, err
}

// toConsent sends the browser to the consent page with the request sealed
// for the session that must answer it.
func (s *Server) toConsent(c *config, flow *authFlow, ls *liveSession, now time.Time) (*op.Redirect, error) {
	if slices.Contains(flow.Prompt, oidc.PromptNone) {
		// OpenID Connect Core 3.1.2.6; the library has no constructor.
		return nil, &oidc.Error{ErrorType: "consent_required", Description: "the user has not allowed this application what it asks for"}
	}
	ask := *flow
	ask.ConsentSID = ls.SID
	// prompt=consent is answered by this page: asking again after the
	// answer would loop.
	ask.Prompt = slices.DeleteFunc(slices.Clone(ask.Prompt), func(p string) bool { return p == oidc.PromptConsent })
	sealed, err := c.sealJSON(purposeConsent, &ask, now.Add(pendingLifetime).Unix())
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return op.NewRedirect(c.issuer + pathConsent + "?r=" + sealed), nil
}

// unsealConsent opens a sealed consent request that has not expired.
func (c *config) unsealConsent(value string, now time.Time) (*authFlow, error) {
	var flow authFlow
	if err := c.unsealJSONAt(purposeConsent, value, &flow, now); err != nil {
		return nil, err
	}
	return &flow, nil
}

type consentView struct {
	Request, CSRF, App, Provider, User, Error string
	// Items describe, one line each, what the application asks for.
	Items      []string
	FormTarget string
	Status     int
}

// consentPage shows what a third-party application asks for, to the
// signed-in user it asks about.
func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	c, now := s.cfg.Load(), s.now()
	sealed := r.URL.Query().Get("r")
	flow, err := c.unsealConsent(sealed, now)
	if err != nil {
		s.renderConsent(w, consentView{Status: http.StatusBadRequest, Error: errLinkExpired})
		return
	}
	ls := s.consentSession(w, r, c, flow, now)
	if ls == nil {
		return
	}
	cl, ok := c.clients[flow.ClientID]
	if !ok {
		s.renderConsent(w, consentView{Status: http.StatusBadRequest, Error: "The application no longer exists."})
		return
	}
	csrf := c.csrfFor(sealed)
	http.SetCookie(w, csrfCookieFor(c, csrf, 0))
	s.renderConsent(w, consentView{Status: http.StatusOK, Request: sealed, CSRF: csrf,
		App: c.appName(flow.ClientID), Provider: c.displayName, User: displayUser(ls),
		Items: c.consentItems(cl, flow), FormTarget: cspSource(flow.RedirectURI)})
}

// consentSubmit records the user's answer and completes the request: a
// code for "allow", error access_denied for "deny".
func (s *Server) consentSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderConsent(w, consentView{Status: http.StatusBadRequest, Error: "The form could not be read."})
		return
	}
	c, now, ctx := s.cfg.Load(), s.now(), r.Context()
	sealed := r.PostForm.Get("r")
	flow, err := c.unsealConsent(sealed, now)
	if err != nil {
		s.renderConsent(w, consentView{Status: http.StatusBadRequest, Error: errLinkExpired})
		return
	}
	cookie, cerr := r.Cookie(c.cookies.csrf)
	if cerr != nil || !c.csrfMatches(sealed, cookie.Value) || !c.csrfMatches(sealed, r.PostForm.Get("csrf")) {
		s.renderConsent(w, consentView{Status: http.StatusForbidden,
			Error: "The answer was not submitted from this page. Go back to the application and sign in again."})
		return
	}
	ls := s.consentSession(w, r, c, flow, now)
	if ls == nil {
		return
	}
	// Either answer redirects: only to a URI still registered (a sealed
	// request may be minutes old).
	if cl, ok := c.clients[flow.ClientID]; !ok || op.ValidateAuthReqRedirectURI(cl, flow.RedirectURI, oidc.ResponseType(flow.ResponseType)) != nil {
		s.renderConsent(w, consentView{Status: http.StatusBadRequest, Error: "The application's request can no longer be completed."})
		return
	}
	http.SetCookie(w, csrfCookieFor(c, "", -1))
	var redirect *op.Redirect
	if r.PostForm.Get("decision") != "allow" {
		s.metrics.consents.WithLabelValues("denied").Inc()
		s.log.Info("consent denied", "client", flow.ClientID, "sid", ls.SID)
		// A "Deny" withdraws what was allowed before: the application's
		// refresh tokens stop at their next use.
		if werr := s.withdrawConsent(ctx, c, flow.ClientID, ls.Subject, now); werr != nil {
			err = s.unavailable("withdraw consent", werr)
		} else {
			err = oidc.ErrAccessDenied().WithDescription("the user denied the application's request")
		}
	} else if err = s.rememberConsent(ctx, c, flow, ls, now); err == nil {
		s.metrics.consents.WithLabelValues("allowed").Inc()
		s.log.Info("consent given", "client", flow.ClientID, "sid", ls.SID)
		flow.consented = true
		redirect, err = s.complete(ctx, c, flow, ls, now)
	} else {
		err = s.unavailable("remember consent", err)
	}
	if err != nil {
		if redirect = s.errorRedirect(ctx, w, flow, err); redirect == nil {
			return
		}
	}
	http.Redirect(w, r, redirect.URL, http.StatusSeeOther)
}

// consentSession is the live session a consent page was shown to, or nil
// after answering the browser: a consent request counts only from the
// session it was sealed for.
func (s *Server) consentSession(w http.ResponseWriter, r *http.Request, c *config, flow *authFlow, now time.Time) *liveSession {
	ls, err := s.sessionFromHeader(r.Context(), c, r.Header, now)
	switch {
	case err != nil:
		_ = s.unavailable("read session", err)
		s.renderConsent(w, consentView{Status: http.StatusServiceUnavailable, Error: errTryAgain})
		return nil
	case ls == nil || ls.SID != flow.ConsentSID:
		s.renderConsent(w, consentView{Status: http.StatusBadRequest, Error: errLinkExpired})
		return nil
	}
	return ls
}

// errorRedirect turns an error completing flow into the redirect that
// tells the application, or shows an issuer page (and returns nil) for
// errors that must not be redirected or that the user should see.
func (s *Server) errorRedirect(ctx context.Context, w http.ResponseWriter, flow *authFlow, err error) *op.Redirect {
	var se op.StatusError
	if errors.As(err, &se) {
		status, msg := http.StatusBadRequest, "The application's request can no longer be completed."
		switch {
		case errors.Is(err, errUnavailable):
			status, msg = http.StatusServiceUnavailable, errTryAgain
		case errors.Is(err, errQuotaExhausted):
			status, msg = http.StatusServiceUnavailable, errCapacity
		}
		s.renderLogin(w, loginView{Status: status, Error: msg})
		return nil
	}
	redirect, rerr := op.TryErrorRedirect(ctx, flow, err, oidc.NewEncoder(), nil)
	if rerr != nil {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: "The application's request can no longer be completed."})
		return nil
	}
	return redirect
}

// rememberConsent adds what flow asks for to the user's answer to its
// application, starting the answer's lifetime anew.
func (s *Server) rememberConsent(ctx context.Context, c *config, flow *authFlow, ls *liveSession, now time.Time) error {
	key := c.consentKey(ls.Subject, flow.ClientID)
	for range 3 {
		rec, err := s.store.Consents().Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err = s.store.Consents().Create(ctx, key, store.Consent{ClientID: flow.ClientID, Subject: ls.Subject,
				Scopes: consentScopes(flow.Scopes, flow.Audience), GrantedAt: now, ExpiresAt: now.Add(consentLifetime)})
		case err == nil:
			scopes := rec.Value.Scopes
			if !now.Before(rec.Value.ExpiresAt) {
				scopes = nil // an expired answer is not widened, it is replaced
			}
			for _, sc := range consentScopes(flow.Scopes, flow.Audience) {
				if !slices.Contains(scopes, sc) {
					scopes = append(scopes, sc)
				}
			}
			rec.Value.Scopes, rec.Value.GrantedAt, rec.Value.ExpiresAt = scopes, now, now.Add(consentLifetime)
			_, err = s.store.Consents().Update(ctx, rec)
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return store.ErrConflict
}

// withdrawConsent empties subject's answer to clientID (the issuer may not
// delete consents; the collector removes the expired record).
func (s *Server) withdrawConsent(ctx context.Context, c *config, clientID, subject string, now time.Time) error {
	rec, err := s.store.Consents().Get(ctx, c.consentKey(subject, clientID))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	rec.Value.Scopes, rec.Value.GrantedAt, rec.Value.ExpiresAt = nil, now, now
	_, err = s.store.Consents().Update(ctx, rec)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil // changed meanwhile by another answer, which stands
	}
	return err
}

// consentItems describes what flow asks of cl, in words a user reads.
func (c *config) consentItems(cl *client, flow *authFlow) []string {
	items := []string{"Know who you are: a stable id of your " + c.displayName + " account"}
	if flow.Audience != "" {
		item := "Call " + flow.Audience + " as you"
		if a, ok := cl.apiByAudience(flow.Audience); ok {
			for _, uc := range a.api.userClaims {
				switch uc {
				case v1alpha1.UserClaimEmail:
					item += ", which receives your email address"
				case v1alpha1.UserClaimGroups:
					item += ", which receives the groups you belong to"
				}
			}
		}
		items = append(items, item)
	}
	for _, sc := range flow.Scopes {
		switch sc {
		case oidc.ScopeOpenID:
		case oidc.ScopeProfile:
			items = append(items, "Your name and username")
		case oidc.ScopeEmail:
			items = append(items, "Your email address")
		case scopeGroups:
			items = append(items, "The groups you belong to")
		case oidc.ScopeOfflineAccess:
			items = append(items, "Access while you are signed out, until you revoke it or it expires")
		default:
			items = append(items, "Permission "+sc+" at "+flow.Audience)
		}
	}
	return items
}

// displayUser is how the consent page names the signed-in user.
func displayUser(ls *liveSession) string {
	if ls.person == nil {
		return ""
	}
	for _, v := range []string{ls.person.Email, ls.person.Username, ls.person.Name} {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) renderConsent(w http.ResponseWriter, v consentView) {
	securityHeaders(w.Header(), v.FormTarget)
	w.WriteHeader(v.Status)
	if err := consentTemplate.Execute(w, v); err != nil {
		s.log.Error("rendering consent page", "error", err)
	}
}

var consentTemplate = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .App}}Allow {{.App}}?{{else}}Allow access?{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;justify-content:center;background:#f4f5f7;color:#111}
main{background:#fff;margin-top:10vh;padding:2rem;border-radius:8px;max-width:24rem;width:100%;box-shadow:0 1px 4px rgba(0,0,0,.15)}
li{margin:.4rem 0}
.buttons{display:flex;gap:.8rem;margin-top:1.5rem}
button{flex:1;padding:.7rem;font-size:1rem;border-radius:4px;cursor:pointer}
button:focus{outline:3px solid #1a5fb4;outline-offset:2px}
.allow{background:#1a5fb4;color:#fff;border:0}
.deny{background:#fff;color:#1a5fb4;border:1px solid #1a5fb4}
.error{color:#a51d2d;background:#fdecea;padding:.6rem;border-radius:4px}
.who{color:#555}
</style>
</head>
<body>
<main>
{{if .Request}}<h1>Allow <span id="consent-app">{{.App}}</span>?</h1>
{{if .User}}<p class="who">Signed in to {{.Provider}} as <strong>{{.User}}</strong></p>{{end}}
<p><strong>{{.App}}</strong> is not run by {{.Provider}}. It asks for:</p>
<ul id="consent-items">
{{range .Items}}<li>{{.}}</li>
{{end}}</ul>
<form method="post" action="consent">
<input type="hidden" name="r" value="{{.Request}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<div class="buttons">
<button class="deny" type="submit" name="decision" value="deny">Deny</button>
<button class="allow" type="submit" name="decision" value="allow" autofocus>Allow</button>
</div>
</form>{{else}}<h1>Allow access?</h1>{{end}}
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
</main>
</body>
</html>
`))
