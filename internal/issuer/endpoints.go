package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// UserInfo answers for a live user access token that was granted openid.
func (s *Server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	claims, err := s.verifyAccessToken(ctx, c, r.Data.AccessToken, s.now())
	if err != nil && !errors.Is(err, errBadToken) {
		return nil, s.unavailable("check revocation", err)
	}
	if err != nil || claims.AuthTime == 0 || !slices.Contains(strings.Fields(claims.Scope), oidc.ScopeOpenID) {
		return nil, op.NewStatusError(&oidc.Error{ErrorType: "invalid_token", Description: "the access token is invalid, expired or revoked"}, http.StatusUnauthorized)
	}
	released := claims.released()
	if claims.Federated == nil {
		if u, ok := c.people[claims.Subject]; ok {
			released = claimsFor(localPerson(u), strings.Fields(claims.Scope))
		} else {
			released = userClaims{}
		}
	}
	return op.NewResponse(struct {
		Subject string `json:"sub"`
		userClaims
		Federated *federated `json:"federated_claims,omitempty"`
	}{claims.Subject, released, claims.Federated}), nil
}

// Introspect (RFC 7662) tells an authenticated confidential client whether
// a token is active: an access token to the client it was issued to or to
// the resource server it is for (see mayIntrospect), a refresh token only
// to the client it was issued to. Anyone else learns "inactive", which
// says nothing about the token.
func (s *Server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	cl, err := s.VerifyClient(ctx, &op.Request[op.ClientCredentials]{Header: r.Header, Form: r.Form, Data: r.Data.ClientCredentials})
	if err != nil {
		return nil, err
	}
	if cl.(*client).public {
		return nil, op.NewStatusError(oidc.ErrInvalidClient().WithDescription("introspection is for confidential clients"), http.StatusUnauthorized)
	}
	now := s.now()
	inactive := op.NewResponse(&oidc.IntrospectionResponse{Active: false})
	if strings.Count(r.Data.Token, ".") == 2 {
		claims, err := s.verifyAccessToken(ctx, c, r.Data.Token, now)
		if err != nil && !errors.Is(err, errBadToken) {
			return nil, s.unavailable("check revocation", err)
		}
		if err != nil || !c.mayIntrospect(cl.(*client), claims) {
			return inactive, nil //nolint:nilerr // RFC 7662: a token that does not verify is inactive, not an error
		}
		return op.NewResponse(&oidc.IntrospectionResponse{
			Active: true, Scope: strings.Fields(claims.Scope), ClientID: claims.ClientID, TokenType: oidc.BearerToken,
			Expiration: oidc.FromTime(unix(claims.Expiry)), IssuedAt: oidc.FromTime(unix(claims.IssuedAt)),
			Subject: claims.Subject, Audience: oidc.Audience{claims.Audience}, Issuer: claims.Issuer, JWTID: claims.JTI,
		}), nil
	}
	fam, err := s.liveRefresh(ctx, c, r.Data.Token, cl.GetID(), now)
	if err != nil {
		return nil, s.unavailable("read refresh family", err)
	}
	if fam == nil {
		return inactive, nil
	}
	exp := c.clients[fam.ClientID].eff.Refresh.ExpiryOf(fam.GrantedAt, fam.LastUsed)
	return op.NewResponse(&oidc.IntrospectionResponse{
		Active: true, Scope: fam.Scopes, ClientID: fam.ClientID, TokenType: "refresh_token",
		Expiration: oidc.FromTime(exp), IssuedAt: oidc.FromTime(fam.LastUsed), Subject: fam.Subject, Issuer: c.issuer,
	}), nil
}

// mayIntrospect: the client the token was issued to, or a confidential
// client of the team that owns the token's API — an Application in the
// API's namespace, which is how a resource server authenticates here. A
// client of another team learns nothing about tokens it could not use.
func (c *config) mayIntrospect(caller *client, claims *accessClaims) bool {
	if caller.id == claims.ClientID {
		return true
	}
	for _, a := range c.apis {
		if a.eff.Audience == claims.Audience {
			return namespaceOf(a.ref) == namespaceOf(caller.ref)
		}
	}
	return false
}

func namespaceOf(ref string) string {
	ns, _, _ := strings.Cut(ref, "/")
	return ns
}

// liveRefresh finds the family of a current refresh token of clientID that
// would be honoured now: not rotated away, not revoked or expired, its user
// unchanged and its session, if bound, alive. nil when it is not; an error
// only when the store cannot answer.
func (s *Server) liveRefresh(ctx context.Context, c *config, raw, clientID string, now time.Time) (*store.RefreshFamily, error) {
	id, grantID, ok := c.familyOf(raw)
	cl := c.clients[clientID]
	if !ok || cl == nil || cl.eff.Refresh == nil {
		return nil, nil
	}
	rec, err := s.store.Families().Get(ctx, c.key(store.KindFamily, id))
	if err != nil {
		return nil, ignoreNotFound(err)
	}
	fam := rec.Value
	if fam.ClientID != clientID || fam.Grant != grantID || fam.Current != c.key(kindRefreshToken, raw) || !fam.RevokedAt.IsZero() ||
		!now.Before(cl.eff.Refresh.ExpiryOf(fam.GrantedAt, fam.LastUsed)) {
		return nil, nil
	}
	if _, reason := familyEnded(c, cl, fam, now); reason != "" {
		return nil, nil
	}
	if allowed, err := s.consentAllows(ctx, c, cl, fam.Subject, fam.Scopes, fam.Audience, now); err != nil || !allowed {
		return nil, err
	}
	if fam.SessionKey != "" {
		ls, err := s.sessionByKey(ctx, c, fam.SessionKey, now)
		if err != nil || ls == nil {
			return nil, err
		}
	}
	return &fam, nil
}

// revocationsPerClientPerMinute bounds the access tokens one client
// revokes per minute on one replica: each is a record kept until the
// token expires, so an unbounded rate would let one client fill the state
// quota's revokedTokens for the whole Tenant (security review N1).
const revocationsPerClientPerMinute = 100

// errRevocationBudget answers a revocation beyond the client's budget:
// 503 with Retry-After (RFC 7009 section 2.2.1), nothing recorded.
var errRevocationBudget = op.NewStatusError(&oidc.Error{
	ErrorType:   "temporarily_unavailable",
	Description: fmt.Sprintf("this client revoked more than %d access tokens in the last minute; try again shortly", revocationsPerClientPerMinute),
}, http.StatusServiceUnavailable)

// Revocation (RFC 7009): a client revokes its own refresh token (with its
// family) or access token. Unknown or foreign tokens get the same 200, so
// the endpoint reveals nothing.
func (s *Server) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	now := s.now()
	tok := r.Data.Token
	if strings.Count(tok, ".") == 2 {
		var claims accessClaims
		if err := c.verifyJWT(tok, "at+jwt", &claims); err == nil && claims.ClientID == r.Client.GetID() && now.Unix() < claims.Expiry {
			if !s.revokeBudget.Allow(claims.ClientID, now) {
				return nil, errRevocationBudget
			}
			if err := s.revokeAccess(ctx, c, claims.JTI, claims.ClientID, unix(claims.Expiry)); err != nil {
				return nil, s.unavailable("revoke access token", err)
			}
		}
		return op.NewResponse(struct{}{}), nil
	}
	// A refresh token revokes its family when it is the family's current
	// token or the one just replaced (a client revoking what it holds).
	if id, grantID, ok := c.familyOf(tok); ok {
		rec, err := s.store.Families().Get(ctx, c.key(store.KindFamily, id))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, s.unavailable("read refresh family", err)
		case rec.Value.ClientID == r.Client.GetID() && rec.Value.Grant == grantID &&
			(rec.Value.Current == c.key(kindRefreshToken, tok) || rec.Value.Previous == c.key(kindRefreshToken, tok)):
			if err := s.revokeFamily(ctx, c, id, grantID, now, rec.Value.ExpiresAt); err != nil {
				return nil, s.unavailable("revoke refresh family", err)
			}
		}
	}
	return op.NewResponse(struct{}{}), nil
}

// EndSession (RP-initiated logout) ends the browser's SSO session and
// returns the user to a registered post-logout URI, or to a plain page.
func (s *Server) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	c := s.cfg.Load()
	now := s.now()
	clientID := r.Data.ClientID
	if hint := r.Data.IdTokenHint; hint != "" {
		var claims idClaims
		// An expired hint still names the client (OpenID RP-Initiated Logout 1.0).
		if err := c.verifyJWT(hint, "JWT", &claims); err != nil || claims.Issuer != c.issuer {
			return nil, oidc.ErrInvalidRequest().WithDescription("id_token_hint is not an ID token of this issuer")
		}
		if clientID != "" && clientID != claims.Audience {
			return nil, oidc.ErrInvalidRequest().WithDescription("client_id does not match id_token_hint")
		}
		clientID = claims.Audience
	}
	target := c.issuer + pathLoggedOut
	if uri := r.Data.PostLogoutRedirectURI; uri != "" {
		cl, ok := c.clients[clientID]
		if !ok || !slices.Contains(cl.postLogoutURIs, uri) {
			return nil, oidc.ErrInvalidRequest().WithDescription("post_logout_redirect_uri is not registered for this client")
		}
		target = uri
		if r.Data.State != "" {
			u, err := url.Parse(uri)
			if err == nil {
				q := u.Query()
				q.Set("state", r.Data.State)
				u.RawQuery = q.Encode()
				target = u.String()
			}
		}
	}
	ls, err := s.sessionFromHeader(ctx, c, r.Header, now)
	if err == nil && ls != nil {
		err = s.endSession(ctx, ls, "Logout")
	}
	if err != nil {
		return nil, s.unavailable("end session", err)
	}
	redirect := op.NewRedirect(target)
	redirect.Header.Add("Set-Cookie", sessionCookieFor(c, "", -1).String())
	return redirect, nil
}

// loggedOut is where logout lands without a post_logout_redirect_uri.
func (s *Server) loggedOut(w http.ResponseWriter, _ *http.Request) {
	s.renderLogin(w, loginView{Status: http.StatusOK, Error: "You are signed out."})
}
