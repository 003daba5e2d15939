package issuer

import (
	"context"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
)

// refreshUse is the refresh token a refresh grant presented.
type refreshUse struct {
	raw  string
	prev store.Refresh
}

// issueUserTokens answers a code or refresh grant: an access token, an ID
// token when openid was granted, and a refresh token (a new family, the
// next of a rotating family, or the same token when rotation is off).
func (s *Server) issueUserTokens(ctx context.Context, c *config, g *grant, ls *liveSession, now time.Time, used *refreshUse) (*op.Response, error) {
	at, exp, err := c.mintAccess(g, now)
	if err != nil {
		return nil, err
	}
	s.countToken(g, "access_token")
	resp := &oidc.AccessTokenResponse{AccessToken: at, TokenType: oidc.BearerToken, ExpiresIn: expiresIn(now, exp), Scope: g.scopes}
	if hasScope(g.scopes, oidc.ScopeOpenID) {
		if resp.IDToken, err = c.mintID(g, now, at, ""); err != nil {
			return nil, err
		}
		s.countToken(g, "id_token")
	}
	if resp.RefreshToken, err = s.refreshFor(ctx, g, ls, now, used); err != nil {
		return nil, err
	}
	return tokenResponse(resp), nil
}

func (s *Server) refreshFor(ctx context.Context, g *grant, ls *liveSession, now time.Time, used *refreshUse) (string, error) {
	rt := g.client.eff.Refresh
	if rt == nil {
		return "", nil
	}
	if used != nil && rt.Rotation == v1alpha1.RotationDisabled {
		g.issuedFamily = used.prev.Family
		return used.raw, nil
	}
	rec := store.Refresh{
		Family: randomID(), ClientID: g.client.id, Subject: g.subject, Scopes: g.scopes,
		SID: g.sid, AuthTime: g.authTime, GrantedAt: now, LastUsed: now,
	}
	if g.api != nil {
		rec.APIRef = g.api.api.eff.Audience
	}
	if used != nil {
		rec.Family, rec.GrantedAt, rec.SessionKey = used.prev.Family, used.prev.GrantedAt, used.prev.SessionKey
	} else if !(rt.AllowOfflineAccess && hasScope(g.scopes, oidc.ScopeOfflineAccess)) && ls != nil {
		rec.SessionKey = ls.key
	}
	// Collectable once past the absolute lifetime in force now.
	rec.ExpiresAt = rec.GrantedAt.Add(rt.Absolute.Duration)
	raw := randomToken()
	if err := s.store.PutRefresh(ctx, digest(raw), rec); err != nil {
		return "", oidc.ErrServerError().WithParent(err)
	}
	s.countToken(g, "refresh_token")
	g.issuedFamily = rec.Family
	return raw, nil
}
