package issuer

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// A refresh token is "<family id>.<secret>". The family id (itself tagged,
// see newSecret) names the one
// record of its grant (a lookup is one read, however often the family
// rotated); the record holds keyed digests of the current token and the one
// it replaced. A rotating family's next token is derived from the one
// presented (HMAC with the tenant's state key), so a tolerated reuse within
// reuseInterval returns the very same successor without storing it.

var errRefreshInvalid = oidc.ErrInvalidGrant().WithDescription("the refresh token is invalid, expired or revoked")

// errGrantReplaced refuses a token of a grant a newer one replaced.
var errGrantReplaced = oidc.ErrInvalidGrant().WithDescription("a newer sign-in of this user to this application replaced this refresh token; sign in again")

// maxRefreshContention bounds how often one request re-reads a family that
// another replica changed under it.
const maxRefreshContention = 3

// familyOf returns the family id and the grant a refresh token names, if
// genuine: "<family id>.<grant>~<secret>", or "<family id>.<secret>" for
// families from before slots (grant ""). One dot, unlike a JWT's two, so
// revocation and introspection tell the kinds apart.
func (c *config) familyOf(raw string) (id, grant string, ok bool) {
	id, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return "", "", false
	}
	secret := rest
	if g, s, withGrant := strings.Cut(rest, "~"); withGrant {
		if len(g) != grantIDLen {
			return "", "", false
		}
		grant, secret = g, s
	}
	return id, grant, len(secret) == 43 && c.genuine(store.KindFamily, id)
}

// successor is the token that replaces raw in its family and grant.
func (c *config) successor(raw string) string {
	cut := max(strings.LastIndex(raw, "~"), strings.Index(raw, "."))
	return raw[:cut+1] + base64.RawURLEncoding.EncodeToString(derive(c.stateKey, purposeSuccessor, raw))
}

// RefreshToken redeems a refresh token. With rotation, each token works
// once: presenting an earlier token of the family (outside reuseInterval
// for the one just replaced) is taken as theft and revokes the family. Of
// two replicas rotating one token at once, one wins the conditional write;
// the other re-reads and is judged by the same reuse rules. The family is
// held to the application's configuration now: its APIs, scopes and
// offline permission, its user's directory entry and its session.
func (s *Server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	cl := c.clients[r.Client.GetID()]
	if cl == nil || cl.eff.Refresh == nil {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this application gets no refresh tokens")
	}
	raw := r.Data.RefreshToken
	familyID, grantID, ok := c.familyOf(raw)
	if !ok {
		return nil, errRefreshInvalid
	}
	now := s.now()
	key, digest := c.key(store.KindFamily, familyID), c.key(kindRefreshToken, raw)
	rt := cl.eff.Refresh
	rotate := rt.Rotation != v1alpha1.RotationDisabled
	for range maxRefreshContention {
		rec, err := s.store.Families().Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errRefreshInvalid
		}
		if err != nil {
			return nil, s.unavailable("read refresh family", err)
		}
		fam := rec.Value
		if fam.ClientID != cl.id {
			return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was issued to another client")
		}
		if fam.Grant != grantID {
			// The slot holds a later grant: this token's holder was
			// replaced, not robbed, and the later grant is not theirs to
			// revoke.
			return nil, errGrantReplaced
		}
		if !fam.RevokedAt.IsZero() {
			return nil, errRefreshInvalid
		}
		var next string // set when a tolerated reuse repeats the answer
		switch {
		case digest == fam.Current:
		case rotate && digest == fam.Previous && reuseTolerated(rt, fam.RotatedAt, now):
			next = c.successor(raw)
		default:
			if err := s.revokeRecord(ctx, rec, now); errors.Is(err, store.ErrConflict) {
				continue // changed meanwhile: judge again
			} else if err != nil {
				return nil, s.unavailable("revoke refresh family", err)
			}
			s.log.Info("refresh token reuse detected; family revoked", "client", cl.id, "sid", fam.SID)
			return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was already used; every token of this grant is now revoked")
		}
		if !now.Before(rt.ExpiryOf(fam.GrantedAt, fam.LastUsed)) {
			return nil, errRefreshInvalid
		}
		if c.connectionRemoved(fam.Identity, fam.UserFingerprint) {
			if err := s.revokeRecord(ctx, rec, now); errors.Is(err, store.ErrConflict) {
				continue
			} else if err != nil {
				return nil, s.unavailable("revoke refresh family", err)
			}
			return nil, oidc.ErrInvalidGrant().WithDescription("the connection the user signed in through was removed; log in again")
		}
		who, reason := familyEnded(c, cl, fam, now)
		if reason != "" {
			// Refused without revoking: a replica a generation behind (a
			// user just added, a password just changed back) must not
			// destroy a family the others honour.
			return nil, oidc.ErrInvalidGrant().WithDescription("%s", reason)
		}
		// A third-party application keeps releasing only what the user
		// still allows (a Tenant may start asking, a user may deny).
		if allowed, err := s.consentAllows(ctx, c, cl, fam.Subject, fam.Scopes, fam.Audience, now); err != nil {
			return nil, s.unavailable("read consent", err)
		} else if !allowed {
			return nil, oidc.ErrInvalidGrant().WithDescription("the user has not allowed this application what this grant releases, or withdrew it; sign in again")
		}
		var ls *liveSession
		if fam.SessionKey != "" {
			if ls, err = s.sessionByKey(ctx, c, fam.SessionKey, now); err != nil {
				return nil, s.unavailable("read session", err)
			}
			if ls == nil {
				if err := s.revokeRecord(ctx, rec, now); store.IsUnavailable(err) {
					return nil, s.unavailable("revoke refresh family", err)
				}
				return nil, oidc.ErrInvalidGrant().WithDescription("the session this refresh token belongs to has ended")
			}
			// Before the family write: a touch that fails loses nothing.
			if err := s.touch(ctx, c, ls, now); err != nil {
				return nil, s.unavailable("touch session", err)
			}
		}
		g, err := refreshGrant(cl, fam, r.Data.Scopes)
		if err != nil {
			return nil, err
		}
		g.person = who
		if ls != nil {
			g.deadline = ls.deadlines.Absolute
		} else {
			g.deadline = c.loginDeadline(who, fam.AuthTime) // an offline grant of a connection user ends at its maxAge
		}
		// Everything that could refuse the grant is decided before the
		// rotation is written: a successor nobody receives would turn the
		// client's retry into "reuse".
		if _, err := c.planAccess(g, now); err != nil {
			return nil, err
		}
		if hasScope(g.scopes, oidc.ScopeOpenID) && cl.eff.IDToken == nil {
			return nil, oidc.ErrInvalidRequest().WithDescription("this application gets no ID tokens")
		}
		if next == "" {
			updated := fam
			updated.LastUsed = now
			// Collectable once it stops working under the lifetimes in
			// force now (they may have been raised since the grant).
			updated.ExpiresAt = familyExpiry(c, cl, updated, ls, who)
			next = raw
			if rotate {
				next = c.successor(raw)
				updated.Previous, updated.Current, updated.RotatedAt = fam.Current, c.key(kindRefreshToken, next), now
			}
			_, err := s.store.Families().Update(ctx, store.Record[store.RefreshFamily]{Key: key, Version: rec.Version, Value: updated})
			switch {
			case errors.Is(err, store.ErrConflict):
				continue
			case errors.Is(err, store.ErrNotFound):
				return nil, errRefreshInvalid
			case err != nil:
				return nil, s.unavailable("rotate refresh token", err)
			}
		}
		return s.issueUserTokens(c, g, now, next)
	}
	return nil, s.unavailable("rotate refresh token", errors.New("the refresh family kept changing concurrently"))
}

// reuseTolerated applies reuseInterval at the second precision state is
// kept in: a rotation recorded at second t may have happened up to a second
// later, so a non-zero interval gets that second back (never less than
// configured; zero stays zero).
func reuseTolerated(rt *lifetime.Refresh, rotatedAt, now time.Time) bool {
	if rt.ReuseInterval.Duration <= 0 {
		return false
	}
	return rt.ReuseTolerated(rotatedAt.Add(time.Second), now)
}

// familyEnded resolves whom a family belongs to under the current
// configuration and says why it may no longer be used at now, or "" when
// it may.
func familyEnded(c *config, cl *client, fam store.RefreshFamily, now time.Time) (*person, string) {
	who, ok := c.personOf(fam.Subject, fam.Identity, fam.UserFingerprint)
	switch {
	case !ok:
		return nil, "the user was removed or changed password, or their connection was removed; log in again"
	case fam.SessionKey == "" && !cl.eff.Refresh.AllowOfflineAccess:
		return who, "this application may no longer use offline access; log in again"
	case !cl.assigned(who):
		return who, "the user is no longer in the application's allowedGroups"
	}
	// A family bound to a session ends with it, whose deadlines hold the
	// connection's maxAge; an offline one of a connection user at maxAge.
	if end := c.loginDeadline(who, fam.AuthTime); fam.SessionKey == "" && !end.IsZero() && !now.Before(end) {
		return who, "the sign-in through the connection is older than its maxAge; sign in again"
	}
	return who, ""
}

// refreshGrant rebuilds the grant of a family under the application's
// current configuration: scopes the application or API no longer grants
// are dropped, and an API it may no longer call is invalid_target. A
// client may narrow the scopes (RFC 6749 section 6), never widen them.
func refreshGrant(cl *client, fam store.RefreshFamily, requested []string) (*grant, error) {
	g := &grant{grantType: "refresh_token", client: cl, subject: fam.Subject, authTime: fam.AuthTime, sid: fam.SID}
	if fam.Audience != "" {
		a, ok := cl.apiByAudience(fam.Audience)
		if !ok {
			return nil, oidc.ErrInvalidTarget().WithDescription("this application may no longer get tokens for that audience")
		}
		g.api = &a
	}
	scopes := fam.Scopes
	if len(requested) > 0 {
		for _, sc := range requested {
			if !slices.Contains(fam.Scopes, sc) {
				return nil, oidc.ErrInvalidScope().WithDescription("scope %q was not part of the original grant", sanitize(sc))
			}
		}
		scopes = requested
	}
	for _, sc := range scopes {
		allowed := slices.Contains(userScopes, sc) || (g.api != nil && slices.Contains(g.api.scopes, sc))
		if sc == oidc.ScopeOfflineAccess && !cl.eff.Refresh.AllowOfflineAccess {
			allowed = false
		}
		if allowed && !slices.Contains(g.scopes, sc) {
			g.scopes = append(g.scopes, sc)
		}
	}
	return g, nil
}

// revokeRecord marks a family revoked at the version read; ErrConflict
// means it changed meanwhile.
func (s *Server) revokeRecord(ctx context.Context, rec store.Record[store.RefreshFamily], now time.Time) error {
	if !rec.Value.RevokedAt.IsZero() {
		return nil
	}
	rec.Value.RevokedAt = now
	_, err := s.store.Families().Update(ctx, rec)
	return ignoreNotFound(err)
}

// revokeFamily revokes one grant of a family slot, whatever the record's
// version: nothing when the slot holds another grant now (a later sign-in
// is not this grant's to revoke). A slot not written yet (a code replayed
// while its first redemption is still being answered) gets a revoked
// placeholder of the grant, so that redemption's write fails and no token
// of the replayed code survives. until bounds the placeholder's life.
func (s *Server) revokeFamily(ctx context.Context, c *config, familyID, grantID string, now, until time.Time) error {
	key := c.key(store.KindFamily, familyID)
	for range maxRefreshContention {
		rec, err := s.store.Families().Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			_, err = s.store.Families().Create(ctx, key, store.RefreshFamily{Grant: grantID, RevokedAt: now, GrantedAt: now, LastUsed: now, AuthTime: now, ExpiresAt: until})
			if errors.Is(err, store.ErrConflict) {
				continue // created meanwhile: judge that one
			}
			return err
		}
		if err != nil {
			return err
		}
		if rec.Value.Grant != grantID {
			return nil
		}
		if err := s.revokeRecord(ctx, rec, now); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return errors.New("the refresh family kept changing concurrently")
}

// revokeAccess records an access token as revoked until it expires.
func (s *Server) revokeAccess(ctx context.Context, c *config, jti, clientID string, exp time.Time) error {
	_, err := s.store.Revocations().Create(ctx, c.key(store.KindRevocation, jti), store.Revocation{ClientID: clientID, ExpiresAt: exp})
	if errors.Is(err, store.ErrConflict) {
		return nil // already revoked
	}
	return err
}
