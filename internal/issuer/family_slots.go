package issuer

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// Refresh families live in slots, so that what one user can make the
// issuer store is bounded by design (security review N1), not by how
// often they sign in:
//
//   - a family bound to a session has one slot per (session, application,
//     audience): a new code exchange of that application in that session
//     replaces the family it had, instead of adding one that lingers to
//     the absolute lifetime;
//   - an offline family (offline_access) takes one of the application's
//     offlineGrantsPerUser slots of its user: a free one (never used,
//     revoked or expired), else the least recently used, which is
//     replaced.
//
// A slot's family id is derived from its coordinates under the state key,
// tagged like every id handed out (newSecret), so nobody without the key
// can compute it. Each grant that takes the slot gets a random grant id,
// which its tokens carry ("<family id>.<grant>~<secret>") and the record
// keeps: a token of an earlier grant is refused (invalid_grant) and
// revokes nothing, and whatever revokes a grant (reuse, a replayed code,
// the revocation endpoint) revokes that grant only, never a later one in
// the same slot.

// grantIDLen is the length of a grant id (randomID: 128 bits).
const grantIDLen = 22

const purposeFamilySlot = "family-slot"

// slotID is the family id of the slot named by parts.
func (c *config) slotID(parts ...string) string {
	r := base64.RawURLEncoding.EncodeToString(derive(c.stateKey, purposeFamilySlot, parts...))
	return r + "~" + c.tag(store.KindFamily, r)
}

// offline reports whether a grant's family outlives its session.
func offline(g *grant) bool {
	return g.client.eff.Refresh.AllowOfflineAccess && hasScope(g.scopes, oidc.ScopeOfflineAccess)
}

// familySlot chooses the family id a code exchange's grant starts under.
// An offline grant reads its user's slots with the application (at most
// offlineGrantsPerUser reads, stopping at the first free one).
func (s *Server) familySlot(ctx context.Context, c *config, g *grant, ls *liveSession, now time.Time) (string, error) {
	audience := ""
	if g.api != nil {
		audience = g.api.api.eff.Audience
	}
	if !offline(g) {
		return c.slotID("session", ls.key, g.client.id, audience), nil
	}
	rt := g.client.eff.Refresh
	var lru string
	var lruUsed time.Time
	for i := range max(1, rt.OfflineGrantsPerUser) {
		id := c.slotID("offline", g.subject, g.client.id, strconv.Itoa(i))
		rec, err := s.store.Families().Get(ctx, c.key(store.KindFamily, id))
		if errors.Is(err, store.ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
		f := rec.Value
		if !f.RevokedAt.IsZero() || !now.Before(rt.ExpiryOf(f.GrantedAt, f.LastUsed)) || !now.Before(f.ExpiresAt) {
			return id, nil
		}
		if lru == "" || f.LastUsed.Before(lruUsed) {
			lru, lruUsed = id, f.LastUsed
		}
	}
	return lru, nil
}

// startFamily writes the family of a code exchange into its slot and
// returns its first token. A family bound to a session is collectable at
// the session's absolute deadline at the latest: it cannot work longer.
func (s *Server) startFamily(ctx context.Context, c *config, g *grant, ls *liveSession, familyID, grantID string, now time.Time) (string, error) {
	rt := g.client.eff.Refresh
	raw := familyID + "." + grantID + "~" + randomToken()
	fam := store.RefreshFamily{
		Grant:    grantID,
		ClientID: g.client.id, Subject: g.subject, Scopes: g.scopes, SID: g.sid, AuthTime: g.authTime,
		UserFingerprint: ls.UserFingerprint, Identity: ls.Identity, GrantedAt: now, LastUsed: now,
		Current: c.key(kindRefreshToken, raw), ExpiresAt: now.Add(rt.Absolute.Duration),
	}
	if g.api != nil {
		fam.Audience = g.api.api.eff.Audience
	}
	fam.ExpiresAt = earliest(fam.ExpiresAt, c.loginDeadline(g.person, g.authTime))
	key := c.key(store.KindFamily, familyID)
	if !offline(g) {
		fam.SessionKey = ls.key
		fam.ExpiresAt = earliest(fam.ExpiresAt, ls.deadlines.Absolute)
		// The session names its families before one exists, so ending
		// it can delete them all.
		if err := s.bindFamily(ctx, ls, key); errors.Is(err, store.ErrNotFound) {
			return "", oidc.ErrInvalidGrant().WithDescription("the session that authorized this code has ended")
		} else if errors.Is(err, errSessionContended) {
			// Still ends with the session (it is checked at every use) and
			// is collected at its absolute deadline; only a logout no
			// longer deletes it at once.
			s.metrics.unboundFamilies.Inc()
			s.log.Info("refresh family not recorded on its session: the session kept changing", "sid", ls.SID, "client", g.client.id)
		} else if err != nil {
			return "", s.unavailable("bind refresh family to session", err)
		}
	}
	for range maxRefreshContention {
		rec, err := s.store.Families().Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err = s.store.Families().Create(ctx, key, fam)
			if errors.Is(err, store.ErrConflict) {
				continue // another exchange took the slot meanwhile: replace it
			}
		case err != nil:
			return "", s.unavailable("read refresh family", err)
		case rec.Value.Grant == grantID:
			// This grant's own revoked placeholder: a replay of the code
			// got here first (see revokeFamily), and nothing of it may
			// survive. Decided by identity, not by time, so replicas'
			// clocks and second-precision storage cannot fool it.
			return "", errCodeInvalid
		default:
			_, err = s.store.Families().Update(ctx, store.Record[store.RefreshFamily]{Key: key, Version: rec.Version, Value: fam})
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				continue // rotated or collected meanwhile: judge again
			}
		}
		if err != nil {
			return "", s.unavailable("write refresh family", err)
		}
		return raw, nil
	}
	return "", s.unavailable("write refresh family", errors.New("the refresh family kept changing concurrently"))
}

// familyExpiry is when a family may be collected: its absolute lifetime
// in force now (it may have been raised since the grant), and for a family
// bound to a session that session's absolute deadline; for a connection
// user, the connection's maxAge. Not its inactivity deadline: a lifetime
// raised after the last use would make a collected family valid again.
func familyExpiry(c *config, cl *client, fam store.RefreshFamily, ls *liveSession, who *person) time.Time {
	at := fam.GrantedAt.Add(cl.eff.Refresh.Absolute.Duration)
	if ls != nil {
		at = earliest(at, ls.deadlines.Absolute)
	}
	return earliest(at, c.loginDeadline(who, fam.AuthTime))
}

func earliest(a, b time.Time) time.Time {
	if b.IsZero() || (!a.IsZero() && a.Before(b)) {
		return a
	}
	return b
}

// maxSessionFamilies bounds the families a session names (the CRD's
// families list); beyond it, a family still ends at the session's
// absolute deadline.
const maxSessionFamilies = 1024

// bindAttempts bounds bindFamily's writes against concurrent changes of
// the session (touches, other applications' exchanges on other replicas).
const bindAttempts = 8

// bindFamily records a family key on its session (once).
func (s *Server) bindFamily(ctx context.Context, ls *liveSession, key string) error {
	return s.updateSession(ctx, ls, bindAttempts, func(next *store.Session) bool {
		if slices.Contains(next.Families, key) || len(next.Families) >= maxSessionFamilies {
			return false
		}
		next.Families = append(slices.Clip(next.Families), key)
		return true
	})
}

// deleteSessionFamilies deletes the refresh families bound to a session
// that ended. Best effort: one that stays is refused (its session is
// gone) and collected at the session's absolute deadline.
func (s *Server) deleteSessionFamilies(ctx context.Context, ls *liveSession) {
	for _, key := range ls.Families {
		if err := s.store.Families().Delete(ctx, key, ""); ignoreNotFound(err) != nil {
			s.log.Error("deleting a refresh family of an ended session", "error", err)
			return
		}
	}
}
