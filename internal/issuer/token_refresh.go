package issuer

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
)

var errRefreshInvalid = oidc.ErrInvalidGrant().WithDescription("the refresh token is invalid, expired or revoked")

// RefreshToken redeems a refresh token. With rotation, each token works
// once: presenting an already-rotated token (outside reuseInterval) is
// taken as theft and revokes the whole family. Session-bound tokens die
// with the session and their use counts as the user's activity.
func (s *Server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	cl := c.clients[r.Client.GetID()]
	if cl == nil || cl.eff.Refresh == nil {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this application gets no refresh tokens")
	}
	now := s.clock.Now()
	key := digest(r.Data.RefreshToken)
	rec, err := s.store.GetRefresh(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errRefreshInvalid
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if rec.ClientID != cl.id {
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was issued to another client")
	}
	if revoked, err := s.store.FamilyRevoked(ctx, rec.Family); err != nil || revoked {
		return nil, errRefreshInvalid
	}
	rt := cl.eff.Refresh
	prev, err := s.store.UseRefresh(ctx, key, now, rt.Rotation != v1alpha1.RotationDisabled)
	if err != nil {
		return nil, errRefreshInvalid
	}
	if !prev.RotatedAt.IsZero() && !rt.ReuseTolerated(prev.RotatedAt, now) {
		s.revokeFamily(ctx, prev, now)
		s.log.Info("refresh token reuse detected; family revoked", "client", cl.id, "sid", prev.SID)
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was already used; every token of this grant is now revoked")
	}
	if !now.Before(rt.ExpiryOf(prev.GrantedAt, prev.LastUsed)) {
		return nil, errRefreshInvalid
	}
	var ls *liveSession
	if prev.SessionKey != "" {
		if ls, err = s.sessionByKey(ctx, c, prev.SessionKey, now); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		if ls == nil {
			s.revokeFamily(ctx, prev, now)
			return nil, oidc.ErrInvalidGrant().WithDescription("the session this refresh token belongs to has ended")
		}
		if err := s.touch(ctx, ls, now); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
	}
	scopes := prev.Scopes
	if len(r.Data.Scopes) > 0 {
		for _, sc := range r.Data.Scopes {
			if !slices.Contains(prev.Scopes, sc) {
				return nil, oidc.ErrInvalidScope().WithDescription("scope %q was not part of the original grant", sanitize(sc))
			}
		}
		scopes = r.Data.Scopes
	}
	g := &grant{grantType: "refresh_token", client: cl, scopes: scopes, subject: prev.Subject, authTime: prev.AuthTime, sid: prev.SID}
	if ls != nil {
		g.deadline = ls.deadlines.Absolute
	}
	if prev.APIRef != "" {
		a, ok := cl.apiByAudience(prev.APIRef)
		if !ok {
			return nil, oidc.ErrInvalidTarget().WithDescription("this application may no longer get tokens for that audience")
		}
		g.api = &a
	}
	return s.issueUserTokens(ctx, c, g, ls, now, &refreshUse{raw: r.Data.RefreshToken, prev: prev})
}

func (s *Server) revokeFamily(ctx context.Context, rec store.Refresh, now time.Time) {
	until := rec.ExpiresAt
	if until.Before(now) {
		until = now
	}
	if err := s.store.RevokeFamily(ctx, rec.Family, until); err != nil {
		s.log.Error("revoking refresh token family", "error", err)
	}
}
