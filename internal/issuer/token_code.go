package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

var errCodeInvalid = oidc.ErrInvalidGrant().WithDescription("the code is unknown, expired or already used")

// CodeExchange redeems an authorization code: once, by the client it was
// issued to, with the same redirect URI and the PKCE verifier, while the
// session that produced it is alive. The code is consumed only once all of
// that checks out (a request with a stolen code but no verifier does not
// burn it), by one conditional write: of two replicas redeeming it at
// once, one answers with tokens and the other with invalid_grant.
func (s *Server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	cl := c.clients[r.Client.GetID()]
	if cl == nil {
		return nil, oidc.ErrInvalidClient()
	}
	now := s.now()
	if !c.genuine(store.KindCode, r.Data.Code) {
		return nil, errCodeInvalid
	}
	rec, err := s.store.Codes().Get(ctx, c.key(store.KindCode, r.Data.Code))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errCodeInvalid
	}
	if err != nil {
		return nil, s.unavailable("read code", err)
	}
	code := rec.Value
	if !code.RedeemedAt.IsZero() {
		return nil, s.codeReplayed(ctx, c, cl, code, now)
	}
	switch {
	case !now.Before(code.ExpiresAt):
		return nil, errCodeInvalid
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
		return nil, s.unavailable("read session", err)
	}
	if ls == nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the session that authorized this code has ended")
	}
	g := &grant{
		grantType: "authorization_code", client: cl, scopes: code.Scopes, subject: code.Subject, person: ls.person,
		deadline: ls.deadlines.Absolute, authTime: code.AuthTime, sid: code.SID, nonce: code.Nonce,
		jti: randomID(),
	}
	if code.Audience != "" {
		a, ok := cl.apiByAudience(code.Audience)
		if !ok {
			return nil, oidc.ErrInvalidTarget().WithDescription("this application may no longer get tokens for the requested audience")
		}
		g.api = &a
	}
	plan, err := c.planAccess(g, now)
	if err != nil {
		return nil, err
	}
	// The redemption records what it is about to issue, so that a replay
	// can revoke it.
	var familyID, grantID, familyRef string
	if cl.eff.Refresh != nil {
		if familyID, err = s.familySlot(ctx, c, g, ls, now); err != nil {
			return nil, s.unavailable("read refresh family", err)
		}
		grantID = randomID()
		familyRef = familyID + "." + grantID
	}
	redeemed := code
	redeemed.RedeemedAt, redeemed.Family, redeemed.AccessJTI, redeemed.AccessExp = now, familyRef, g.jti, plan.exp
	if _, err := s.store.Codes().Update(ctx, store.Record[store.Code]{Key: rec.Key, Version: rec.Version, Value: redeemed}); err != nil {
		if store.IsUnavailable(err) {
			return nil, s.unavailable("redeem code", err)
		}
		// Another redemption won: this one is a replay of it.
		again, err := s.store.Codes().Get(ctx, rec.Key)
		if err != nil || again.Value.RedeemedAt.IsZero() {
			if store.IsUnavailable(err) {
				return nil, s.unavailable("read code", err)
			}
			return nil, errCodeInvalid
		}
		return nil, s.codeReplayed(ctx, c, cl, again.Value, now)
	}
	var refresh string
	if familyID != "" {
		if refresh, err = s.startFamily(ctx, c, g, ls, familyID, grantID, now); err != nil {
			return nil, err
		}
	}
	return s.issueUserTokens(c, g, now, refresh)
}

// codeReplayed answers a second redemption. RFC 6749 4.1.2: when the
// client the code was issued to presents it again, one of the two
// redemptions was not the client's, so what the first issued is revoked.
// Another client presenting it cannot revoke a grant that is not its own.
func (s *Server) codeReplayed(ctx context.Context, c *config, cl *client, code store.Code, now time.Time) error {
	if code.ClientID != cl.id {
		return errCodeInvalid
	}
	if code.Family != "" {
		until := now.Add(codeLifetime)
		if cl.eff.Refresh != nil {
			until = now.Add(cl.eff.Refresh.Absolute.Duration)
		}
		familyID, grantID, _ := strings.Cut(code.Family, ".") // "<family id>.<grant>"; no grant before slots
		if err := s.revokeFamily(ctx, c, familyID, grantID, now, until); err != nil {
			return s.unavailable("revoke family of replayed code", err)
		}
	}
	if code.AccessJTI != "" {
		if err := s.revokeAccess(ctx, c, code.AccessJTI, code.ClientID, code.AccessExp); err != nil {
			return s.unavailable("revoke access token of replayed code", err)
		}
	}
	s.log.Info("authorization code replayed; its tokens are revoked", "client", cl.id, "sid", code.SID)
	return errCodeInvalid
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
