package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// CodeExchange redeems an authorization code: once, by the client it was
// issued to, with the same redirect URI and the PKCE verifier, while the
// session that produced it is alive.
func (s *Server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	cl := c.clients[r.Client.GetID()]
	if cl == nil {
		return nil, oidc.ErrInvalidClient()
	}
	now := s.clock.Now()
	key := digest(r.Data.Code)
	code, err := s.store.TakeCode(ctx, key, now)
	if errors.Is(err, store.ErrCodeReused) {
		// RFC 6749 4.1.2: a replayed code revokes what it issued, since
		// one of the two redemptions was not the client's.
		if code.Family != "" && cl.eff.Refresh != nil {
			s.revokeFamily(ctx, store.Refresh{Family: code.Family, ExpiresAt: now.Add(cl.eff.Refresh.Absolute.Duration)}, now)
		}
		if code.AccessJTI != "" {
			if err := s.store.Revoke(ctx, code.AccessJTI, code.AccessExp); err != nil {
				s.log.Error("revoking the access token of a replayed code", "error", err)
			}
		}
		s.log.Info("authorization code replayed; its tokens are revoked", "client", cl.id, "sid", code.SID)
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is unknown, expired or already used")
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is unknown, expired or already used")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	switch {
	case !now.Before(code.ExpiresAt):
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is unknown, expired or already used")
	case code.ClientID != cl.id:
		return nil, oidc.ErrInvalidGrant().WithDescription("the code was issued to another client")
	case code.RedirectURI != r.Data.RedirectURI:
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri differs from the authorization request")
	}
	if err := checkPKCE(code, r.Data.CodeVerifier); err != nil {
		return nil, err
	}
	ls, err := s.sessionByKey(ctx, c, code.SessionKey, now)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if ls == nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the session that authorized this code has ended")
	}
	g := &grant{
		grantType: "authorization_code", client: cl, scopes: code.Scopes, subject: code.Subject,
		deadline: ls.deadlines.Absolute, authTime: code.AuthTime, sid: code.SID, nonce: code.Nonce,
	}
	if code.APIRef != "" {
		a, ok := cl.apiByAudience(code.APIRef)
		if !ok {
			return nil, oidc.ErrInvalidTarget().WithDescription("this application may no longer get tokens for the requested audience")
		}
		g.api = &a
	}
	resp, err := s.issueUserTokens(ctx, c, g, ls, now, nil)
	if err != nil {
		return nil, err
	}
	if err := s.store.RecordCodeTokens(ctx, key, g.issuedFamily, g.issuedJTI, g.issuedExp); err != nil {
		s.log.Error("recording what a code issued", "error", err)
	}
	return resp, nil
}

// checkPKCE verifies the code_verifier against the stored challenge
// (RFC 7636). A code issued without a challenge must not get a verifier.
func checkPKCE(code store.Code, verifier string) error {
	if code.CodeChallenge == "" {
		if verifier != "" {
			return oidc.ErrInvalidGrant().WithDescription("code_verifier sent for a code issued without code_challenge")
		}
		return nil
	}
	if verifier == "" {
		return oidc.ErrInvalidGrant().WithDescription("code_verifier is required")
	}
	var computed string
	switch oidc.CodeChallengeMethod(code.CodeChallengeMethod) {
	case oidc.CodeChallengeMethodS256:
		sum := sha256.Sum256([]byte(verifier))
		computed = base64.RawURLEncoding.EncodeToString(sum[:])
	default: // plain, only ever accepted from confidential clients
		computed = verifier
	}
	if subtle.ConstantTimeCompare([]byte(computed), []byte(code.CodeChallenge)) != 1 {
		return oidc.ErrInvalidGrant().WithDescription("code_verifier does not match code_challenge")
	}
	return nil
}
