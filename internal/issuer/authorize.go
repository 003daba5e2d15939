package issuer

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Fixed protocol lifetimes that are not user settings: an authorization
// code is exchanged within seconds (RFC 6749 recommends at most 10 minutes),
// and a login page left open longer starts over.
const (
	codeLifetime    = time.Minute
	pendingLifetime = issuerconfig.PendingLifetime
)

// Length limits on the parameters an authorization request carries through
// the login page (sealed) and into the code record. RFC 7636 fixes the
// code challenge's alphabet and length; state and nonce are opaque to us,
// and these bounds are far above what real clients send (a UUID, a JWT).
const (
	maxState         = 2048
	maxNonce         = 512
	minCodeChallenge = 43
	maxCodeChallenge = 128
)

// checkLengths refuses oversized or malformed opaque parameters with
// invalid_request, before anything is sealed or stored.
func checkLengths(req *oidc.AuthRequest) error {
	switch {
	case len(req.State) > maxState:
		return oidc.ErrInvalidRequest().WithDescription("state is longer than %d characters", maxState)
	case len(req.Nonce) > maxNonce:
		return oidc.ErrInvalidRequest().WithDescription("nonce is longer than %d characters", maxNonce)
	case strings.ContainsFunc(req.Nonce, unicode.IsControl) || !utf8.ValidString(req.Nonce):
		// It is stored with the code and echoed in the ID token: a control
		// character (NUL, which no JSON store takes) or broken UTF-8 is no
		// client's nonce.
		return oidc.ErrInvalidRequest().WithDescription("nonce must be printable UTF-8 text")
	case req.CodeChallenge != "" && (len(req.CodeChallenge) < minCodeChallenge || len(req.CodeChallenge) > maxCodeChallenge ||
		strings.Trim(req.CodeChallenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != ""):
		return oidc.ErrInvalidRequest().WithDescription("code_challenge must be %d to %d characters of [A-Za-z0-9-._~] (RFC 7636)", minCodeChallenge, maxCodeChallenge)
	}
	return nil
}

// authFlow is a validated authorization request, kept while the user logs
// in and then completed.
type authFlow struct {
	ClientID            string   `json:"clientID"`
	RedirectURI         string   `json:"redirectURI"`
	ResponseType        string   `json:"responseType"`
	ResponseMode        string   `json:"responseMode"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"codeChallenge,omitempty"`
	CodeChallengeMethod string   `json:"codeChallengeMethod,omitempty"`
	Scopes              []string `json:"scopes,omitempty"`
	Audience            string   `json:"audience,omitempty"`
	// Prompt and MaxAge are passed on to an upstream connection, so that
	// a forced login there is a real one too.
	Prompt []string `json:"prompt,omitempty"`
	MaxAge *uint    `json:"maxAge,omitempty"`
	// ConsentSID is the session a consent page was shown to (set only in
	// sealed consent requests): the answer counts from that session only.
	ConsentSID string `json:"consentSID,omitempty"`
	// consented is set once the user answered the consent page for this
	// very request; never sealed, so no request arrives consented.
	consented bool
}

// authFlow carries what op.TryErrorRedirect needs to send an error back.
func (f *authFlow) GetRedirectURI() string             { return f.RedirectURI }
func (f *authFlow) GetResponseType() oidc.ResponseType { return oidc.ResponseType(f.ResponseType) }
func (f *authFlow) GetState() string                   { return f.State }
func (f *authFlow) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(f.ResponseMode) }

func (f *authFlow) has(part string) bool {
	return slices.Contains(strings.Fields(f.ResponseType), part)
}

// VerifyAuthRequest finds the client of an authorization request. Errors
// here are shown to the user, never redirected: the redirect URI is not yet
// known to be the client's.
func (s *Server) VerifyAuthRequest(_ context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	if r.Data.RequestParam != "" {
		return nil, oidc.ErrRequestNotSupported()
	}
	cl, ok := s.cfg.Load().clients[r.Data.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client_id")
	}
	if cl.spec.Type == v1alpha1.MachineToMachine {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("this application has no user flows")
	}
	// Responses carrying tokens go in the fragment (OAuth 2.0 Multiple
	// Response Types); the library defaults hybrid types to the query.
	switch r.Data.ResponseMode {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFragment:
	default:
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("response_mode must be query or fragment")
	}
	if r.Data.ResponseType != oidc.ResponseTypeCode {
		r.Data.ResponseMode = oidc.ResponseModeFragment
	}
	return &op.ClientRequest[oidc.AuthRequest]{Request: r, Client: cl}, nil
}

// Authorize answers a request whose client and redirect URI are valid:
// from the SSO session when there is a usable one, otherwise through the
// login page. Errors returned here are redirected to the client.
func (s *Server) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	c := s.cfg.Load()
	cl := r.Client.(*client)
	req := r.Data
	if err := checkLengths(req); err != nil {
		return nil, err
	}
	flow := &authFlow{
		ClientID: cl.id, RedirectURI: req.RedirectURI, ResponseType: string(req.ResponseType),
		ResponseMode: string(req.ResponseMode), State: req.State, Nonce: req.Nonce,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt: req.Prompt, MaxAge: req.MaxAge,
	}
	if flow.has("code") && cl.public {
		if flow.CodeChallenge == "" {
			return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge is required: public clients must use PKCE with S256")
		}
		if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
			return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256 for public clients")
		}
	}
	if flow.has("id_token") {
		if flow.Nonce == "" {
			return nil, oidc.ErrInvalidRequest().WithDescription("nonce is required when the authorization endpoint returns an ID token")
		}
		if !slices.Contains(req.Scopes, oidc.ScopeOpenID) {
			return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required for an ID token")
		}
	}
	api, err := resolveTarget(cl, r.Form)
	if err != nil {
		return nil, err
	}
	if api != nil {
		flow.Audience = api.api.eff.Audience
	}
	if flow.Scopes, err = resolveScopes(req.Scopes, api, true); err != nil {
		return nil, err
	}
	if !cl.eff.Refresh.AllowOfflineAccess {
		// OpenID Connect Core 11: an offline_access the client may not have
		// is ignored, not an error; its refresh tokens stay session-bound.
		flow.Scopes = slices.DeleteFunc(flow.Scopes, func(s string) bool { return s == oidc.ScopeOfflineAccess })
	}
	now := s.now()
	ls, err := s.sessionFromHeader(ctx, c, r.Header, now)
	if err != nil {
		return nil, s.unavailable("read session", err)
	}
	if ls == nil || needsLogin(req, ls, now) {
		if slices.Contains(req.Prompt, oidc.PromptNone) {
			return nil, oidc.ErrLoginRequired().WithDescription("the user must log in")
		}
		return s.toLogin(c, flow, now)
	}
	if err := s.touch(ctx, c, ls, now); err != nil {
		return nil, s.unavailable("touch session", err)
	}
	return s.complete(ctx, c, flow, ls, now)
}

// codesPerSessionPerMinute bounds the authorization codes one session gets
// per minute on one replica: far above what a person signing in to many
// applications needs, far below what would fill the state quota's codes
// (security review N1).
const codesPerSessionPerMinute = 60

// needsLogin applies prompt=login (which the library turns into max_age=0)
// and max_age to an existing session.
func needsLogin(req *oidc.AuthRequest, ls *liveSession, now time.Time) bool {
	if req.MaxAge == nil {
		return false
	}
	maxAge := time.Duration(*req.MaxAge) * time.Second
	return maxAge == 0 || now.Sub(ls.AuthTime) > maxAge
}

// toLogin seals the request into the login page's URL: nothing is stored
// for a user who has not logged in.
func (s *Server) toLogin(c *config, flow *authFlow, now time.Time) (*op.Redirect, error) {
	sealed, err := c.seal(flow, now.Add(pendingLifetime))
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if len(sealed) > maxSealed {
		// Within the length limits but escaped beyond them (control
		// characters): refused here rather than as an expired link later.
		return nil, oidc.ErrInvalidRequest().WithDescription("the authorization request is too large")
	}
	// With one way in, the login page would offer one button: go
	// straight to the upstream.
	if len(c.users) == 0 && len(c.connectionOrder) == 1 {
		return op.NewRedirect(c.issuer + pathLoginUpstream + "?c=" + url.QueryEscape(c.connectionOrder[0].name) + "&r=" + sealed), nil
	}
	return op.NewRedirect(c.issuer + pathLogin + "?r=" + sealed), nil
}

// complete answers an authorization request for a live session: a code,
// and/or tokens delivered through the front channel.
func (s *Server) complete(ctx context.Context, c *config, flow *authFlow, ls *liveSession, now time.Time) (*op.Redirect, error) {
	cl, ok := c.clients[flow.ClientID]
	if !ok {
		return nil, oidc.ErrAccessDenied().WithDescription("the application no longer exists")
	}
	// A sealed request may be minutes old: the redirect URI must still be
	// registered now.
	if err := op.ValidateAuthReqRedirectURI(cl, flow.RedirectURI, oidc.ResponseType(flow.ResponseType)); err != nil {
		// Shown to the user, never redirected to the unregistered URI.
		return nil, op.NewStatusError(oidc.ErrInvalidRequestRedirectURI().WithDescription("the application's redirect URI is no longer registered"), http.StatusBadRequest)
	}
	if flow.has("code") && !s.codeBudget.Allow(ls.SID, now) {
		s.log.Info("sign-in refused: the session asked for too many codes", "client", cl.id, "sid", ls.SID)
		return nil, &oidc.Error{ErrorType: "temporarily_unavailable",
			Description: fmt.Sprintf("this session asked for more than %d authorization codes in a minute; try again shortly", codesPerSessionPerMinute)}
	}
	if !cl.assigned(ls.person) {
		s.log.Info("sign-in refused: the user is not in the application's allowedGroups", "client", cl.id, "sid", ls.SID)
		return nil, oidc.ErrAccessDenied().WithDescription("this user is not assigned to this application")
	}
	switch ask, err := s.needsConsent(ctx, c, cl, flow, ls, now); {
	case err != nil:
		return nil, s.unavailable("read consent", err)
	case ask:
		return s.toConsent(c, flow, ls, now)
	}
	g := &grant{
		grantType: "implicit", client: cl, scopes: flow.Scopes, subject: ls.Subject, person: ls.person,
		deadline: ls.deadlines.Absolute, authTime: ls.AuthTime, sid: ls.SID, nonce: flow.Nonce,
	}
	if flow.Audience != "" {
		a, ok := cl.apiByAudience(flow.Audience)
		if !ok {
			return nil, oidc.ErrInvalidTarget().WithDescription("this application may no longer get tokens for the requested audience")
		}
		g.api = &a
	}
	params := url.Values{}
	var code, accessToken string
	if flow.has("code") {
		code = c.newSecret(store.KindCode)
		_, err := s.store.Codes().Create(ctx, c.key(store.KindCode, code), store.Code{
			ClientID: cl.id, RedirectURI: flow.RedirectURI, CodeChallenge: flow.CodeChallenge,
			CodeChallengeMethod: flow.CodeChallengeMethod, Nonce: flow.Nonce, Scopes: flow.Scopes,
			Audience: flow.Audience, SessionKey: ls.key, SID: ls.SID, Subject: ls.Subject,
			AuthTime: ls.AuthTime, ExpiresAt: now.Add(codeLifetime),
		})
		if err != nil {
			return nil, s.unavailable("create code", err)
		}
		params.Set("code", code)
	}
	if flow.has("token") {
		g.frontChannel = true
		tok, exp, err := c.mintAccess(g, now)
		if err != nil {
			return nil, err
		}
		accessToken = tok
		s.countToken(g, "access_token")
		params.Set("access_token", tok)
		params.Set("token_type", oidc.BearerToken)
		params.Set("expires_in", strconv.FormatUint(expiresIn(now, exp), 10))
		params.Set("scope", strings.Join(flow.Scopes, " "))
	}
	if flow.has("id_token") {
		idt, err := c.mintID(g, now, accessToken, code)
		if err != nil {
			return nil, err
		}
		s.countToken(g, "id_token")
		params.Set("id_token", idt)
	}
	if flow.State != "" {
		params.Set("state", flow.State)
	}
	return op.NewRedirect(responseURL(flow, params)), nil
}

// responseURL puts the response in the query (code) or the fragment (any
// response carrying a token).
func responseURL(flow *authFlow, params url.Values) string {
	u, err := url.Parse(flow.RedirectURI)
	if err != nil { // validated against the registration before; defensive
		return flow.RedirectURI
	}
	if flow.ResponseMode == string(oidc.ResponseModeFragment) {
		u.Fragment = ""
		return u.String() + "#" + params.Encode()
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}
