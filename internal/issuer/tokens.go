package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	signing "github.com/idtenant/idtenant/internal/issuer/signing"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// expiresIn is the token response's expires_in for a token issued at now:
// exp - iat in whole seconds, exactly as in the token.
func expiresIn(now, exp time.Time) uint64 {
	d := exp.Unix() - now.Unix()
	if d < 0 {
		return 0
	}
	return uint64(d)
}

// countToken counts a token of kind just minted for g.
func (s *Server) countToken(g *grant, kind string) {
	flow, alg := "None", "none" // refresh tokens are opaque, not signed
	switch kind {
	case "access_token":
		f, _ := lifetime.FlowFor(g.client.spec.Type, g.frontChannel)
		flow, alg = string(f), g.accessAlg
	case "id_token":
		alg = g.idAlg
	}
	s.metrics.tokens.WithLabelValues(g.grantType, flow, kind, alg).Inc()
}

// unix turns a JWT NumericDate back into a time.
func unix(sec int64) time.Time { return time.Unix(sec, 0) }

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

// accessClaims is an access token in the RFC 9068 JWT profile.
type accessClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	JTI      string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	AuthTime int64  `json:"auth_time,omitempty"`
	SID      string `json:"sid,omitempty"`
	// The user attributes the token's API asks for (API spec.userClaims).
	Email  string   `json:"email,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// An upstream connection's user (federated_claims) in a token for
	// userinfo carries the claims its scopes release (see mintAccess).
	PreferredUsername string     `json:"preferred_username,omitempty"`
	Name              string     `json:"name,omitempty"`
	EmailVerified     *bool      `json:"email_verified,omitempty"`
	Federated         *federated `json:"federated_claims,omitempty"`
}

// released is what userinfo answers from a token of an upstream user.
func (a *accessClaims) released() userClaims {
	return userClaims{PreferredUsername: a.PreferredUsername, Name: a.Name, Email: a.Email, EmailVerified: a.EmailVerified, Groups: a.Groups}
}

// idClaims is an OpenID Connect ID token.
type idClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
	SID      string `json:"sid,omitempty"`
	AZP      string `json:"azp"`
	AtHash   string `json:"at_hash,omitempty"`
	CHash    string `json:"c_hash,omitempty"`
	// Federated names an upstream connection's user: the connection
	// and their subject there.
	Federated *federated `json:"federated_claims,omitempty"`
	// The standard claims of the granted scopes. OpenID Connect Core 5.4
	// requires them in the ID token only when no access token is issued;
	// they are in every ID token too, because relying parties that never
	// call userinfo (the Kubernetes API server, Argo CD) read email and
	// groups from it.
	userClaims
}

// sign serialises claims as a compact JWS.
func sign(signer *signing.JWSSigner, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	return signer.Sign(payload)
}

// randomToken returns 256 random bits, base64url: codes, refresh tokens,
// session cookies.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// randomID returns 128 random bits, base64url: jti, sid, families.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashClaim computes at_hash / c_hash for the signing algorithm.
func hashClaim(value string, alg string) string {
	h, err := oidc.ClaimHash(value, jose.SignatureAlgorithm(alg))
	if err != nil {
		return ""
	}
	return h
}

var errBadToken = errors.New("not a valid token of this issuer")

var acceptedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// verifyJWT checks a JWT signed by one of the configuration's keys (any
// role, so tokens signed before a rotation still verify) and decodes its
// claims into dst. Expiry is the caller's business.
func (c *config) verifyJWT(token, wantTyp string, dst any) error {
	if len(token) > maxTokenLen || strings.Count(token, ".") != 2 {
		return errBadToken
	}
	jws, err := jose.ParseSignedCompact(token, acceptedAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return errBadToken
	}
	h := jws.Signatures[0].Protected
	key, ok := c.keys.Public[h.KeyID]
	if !ok || key.Algorithm != h.Algorithm {
		return errBadToken
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, wantTyp) {
		return errBadToken
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return errBadToken
	}
	if err := json.Unmarshal(payload, dst); err != nil {
		return errBadToken
	}
	return nil
}

// verifyAccessToken returns the claims of a live access token of this
// issuer: good signature, not expired at now, not revoked.
func (s *Server) verifyAccessToken(ctx context.Context, c *config, token string, now time.Time) (*accessClaims, error) {
	var claims accessClaims
	if err := c.verifyJWT(token, "at+jwt", &claims); err != nil {
		return nil, err
	}
	if claims.Issuer != c.issuer || now.Unix() >= claims.Expiry {
		return nil, errBadToken
	}
	_, err := s.store.Revocations().Get(ctx, c.key(store.KindRevocation, claims.JTI))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &claims, nil
	case err != nil:
		return nil, fmt.Errorf("checking revocation: %w", err)
	default:
		return nil, errBadToken
	}
}

const maxTokenLen = 8 << 10
