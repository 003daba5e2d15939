package issuer

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// issueUserTokens answers a code or refresh grant whose state is already
// written: an access token, an ID token when openid was granted, and the
// refresh token the caller prepared (none when empty). Nothing is issued
// whose state could not be written: callers write first.
func (s *Server) issueUserTokens(c *config, g *grant, now time.Time, refresh string) (*op.Response, error) {
	at, exp, err := c.mintAccess(g, now)
	if err != nil {
		return nil, err
	}
	s.countToken(g, "access_token")
	resp := &oidc.AccessTokenResponse{AccessToken: at, TokenType: oidc.BearerToken, ExpiresIn: expiresIn(now, exp), Scope: g.scopes, RefreshToken: refresh}
	if hasScope(g.scopes, oidc.ScopeOpenID) {
		if resp.IDToken, err = c.mintID(g, now, at, ""); err != nil {
			return nil, err
		}
		s.countToken(g, "id_token")
	}
	if refresh != "" {
		s.countToken(g, "refresh_token")
	}
	return tokenResponse(resp), nil
}
