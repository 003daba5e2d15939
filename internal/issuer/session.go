package issuer

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// sessionEndUserChanged ends a session whose user was removed from the
// directory or changed password (counted when the memory store collects it).
const sessionEndUserChanged lifetime.SessionEnd = "UserChanged"

// sessionEndConnectionRemoved ends a session started through a connection
// the tenant no longer has.
const sessionEndConnectionRemoved lifetime.SessionEnd = "ConnectionRemoved"

// liveSession is a session that was active at the time of the check.
type liveSession struct {
	key     string // record key (keyed digest of the cookie)
	version string // record version read
	store.Session
	deadlines lifetime.Deadlines
	// person is the session's user as the configuration in force
	// describes them.
	person *person
}

// sessionFromHeader finds the live session named by the request's cookie.
// A session past a deadline (computed from the configuration in force now)
// is ended and removed, with the reason counted; one of a changed user is
// refused.
func (s *Server) sessionFromHeader(ctx context.Context, c *config, h http.Header, now time.Time) (*liveSession, error) {
	cookie, err := (&http.Request{Header: h}).Cookie(c.cookies.session)
	if err != nil || !c.genuine(store.KindSession, cookie.Value) {
		return nil, nil //nolint:nilerr // no cookie, or a forged one, is no session
	}
	return s.sessionByKey(ctx, c, c.key(store.KindSession, cookie.Value), now)
}

// sessionByKey returns the live session stored under key, nil when there
// is none (any more); an error only when the store cannot answer.
func (s *Server) sessionByKey(ctx context.Context, c *config, key string, now time.Time) (*liveSession, error) {
	if key == "" {
		return nil, nil
	}
	rec, err := s.store.Sessions().Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sess := rec.Value
	who, ok := c.personOf(sess.Subject, sess.Identity, sess.UserFingerprint)
	if !ok && c.connectionRemoved(sess.Identity, sess.UserFingerprint) {
		// Ended for good: re-adding the connection later must not bring
		// the session back.
		if err := s.store.Sessions().Delete(ctx, key, rec.Version); store.IsUnavailable(err) {
			return nil, err
		}
		s.metrics.sessionsEnd.WithLabelValues(string(sessionEndConnectionRemoved)).Inc()
		s.log.Info("session ended", "reason", string(sessionEndConnectionRemoved), "sid", sess.SID)
		return nil, nil
	}
	if !ok {
		// The user was removed or changed password, or their connection
		// was removed — or this replica has not loaded the generation
		// that added them yet. Refuse without deleting: a replica a
		// generation behind must not destroy what the others honour. The
		// collector removes the record when it expires.
		return nil, nil
	}
	d := c.sessionDeadlines(sess, who)
	if end := d.EndAt(now); end != lifetime.SessionActive {
		// Conditional: a replica that touched it meanwhile decided anew.
		if err := s.store.Sessions().Delete(ctx, key, rec.Version); store.IsUnavailable(err) {
			return nil, err
		}
		s.metrics.sessionsEnd.WithLabelValues(string(end)).Inc()
		s.log.Info("session ended", "reason", string(end), "sid", sess.SID)
		return nil, nil
	}
	return &liveSession{key: key, version: rec.Version, Session: sess, deadlines: d, person: who}, nil
}

// touchGranularity is how stale a session's recorded activity may be
// before a request writes it again: 1% of the inactivity timeout, at most a
// minute. Without it every authorization and refresh would write the
// session; with it the idle deadline is at most that much earlier than
// exact, never later.
func touchGranularity(c *config) time.Duration {
	return min(c.tenant.Session.Inactivity.Duration/100, time.Minute)
}

// touch records activity on behalf of the session's user: the idle deadline
// slides to now + inactivityTimeout (never past the absolute deadline).
// Another replica's concurrent touch is as good as ours.
func (s *Server) touch(ctx context.Context, c *config, ls *liveSession, now time.Time) error {
	err := s.updateSession(ctx, ls, maxRefreshContention, func(next *store.Session) bool {
		if now.Sub(next.LastActivity) < touchGranularity(c) {
			return false
		}
		next.LastActivity = now
		return true
	})
	if errors.Is(err, errSessionContended) {
		return nil // another replica's touch is as good as ours
	}
	return ignoreNotFound(err) // ended meanwhile (logout): this request still completes
}

// errSessionContended: the session kept changing under updateSession's
// writes; the change was not made.
var errSessionContended = errors.New("the session kept changing concurrently")

// updateSession writes change to the session at the version read; when
// another replica changed it meanwhile, it re-reads and applies change
// again (change says whether anything is left to write). ErrNotFound: the
// session ended.
func (s *Server) updateSession(ctx context.Context, ls *liveSession, attempts int, change func(next *store.Session) bool) error {
	for range attempts {
		next := ls.Session
		if !change(&next) {
			return nil
		}
		rec, err := s.store.Sessions().Update(ctx, store.Record[store.Session]{Key: ls.key, Version: ls.version, Value: next})
		switch {
		case err == nil:
			ls.Session, ls.version = rec.Value, rec.Version
			return nil
		case errors.Is(err, store.ErrConflict):
			cur, err := s.store.Sessions().Get(ctx, ls.key)
			if err != nil {
				return err
			}
			ls.Session, ls.version = cur.Value, cur.Version
		default:
			return err
		}
	}
	return errSessionContended
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// startSession creates a session for who and returns the cookie value.
func (s *Server) startSession(ctx context.Context, c *config, who loginIdentity, now time.Time) (string, *liveSession, error) {
	person, ok := c.personOf(who.subject, who.sealed, who.fingerprint)
	if !ok {
		return "", nil, errors.New("the user who logged in is not in the configuration in force")
	}
	cookie := c.newSecret(store.KindSession)
	sess := store.Session{SID: randomID(), Subject: who.subject, AuthTime: now, LastActivity: now,
		UserFingerprint: who.fingerprint, Identity: who.sealed}
	key := c.key(store.KindSession, cookie)
	rec, err := s.store.Sessions().Create(ctx, key, sess)
	if err != nil {
		return "", nil, err
	}
	s.metrics.sessionsStart.Inc()
	d := c.sessionDeadlines(sess, person)
	return cookie, &liveSession{key: key, version: rec.Version, Session: sess, deadlines: d, person: person}, nil
}

// endSession deletes a session the user left (logout, a new login).
func (s *Server) endSession(ctx context.Context, ls *liveSession, reason string) error {
	if err := s.store.Sessions().Delete(ctx, ls.key, ""); err != nil {
		return err
	}
	s.deleteSessionFamilies(ctx, ls)
	s.metrics.sessionsEnd.WithLabelValues(reason).Inc()
	s.log.Info("session ended", "reason", reason, "sid", ls.SID)
	return nil
}

// collector is a store that collects its own expired records (memory);
// the Kubernetes store is collected by the operator.
type collector interface {
	Collect(now time.Time, ended func(store.Session) bool) map[store.Kind]int
}

// collect removes expired records and ended sessions from a store that
// collects itself; run periodically.
func (s *Server) Collect() {
	col, ok := s.backend.(collector)
	if !ok {
		return
	}
	now := s.now()
	c := s.cfg.Load()
	var ended []lifetime.SessionEnd
	n := col.Collect(now, func(sess store.Session) bool {
		end := c.tenant.Session.DeadlinesOf(sess.AuthTime, sess.LastActivity).EndAt(now)
		if _, ok := c.personOf(sess.Subject, sess.Identity, sess.UserFingerprint); !ok {
			end = sessionEndUserChanged
		}
		if end != lifetime.SessionActive {
			ended = append(ended, end)
			return true
		}
		return false
	})
	for _, e := range ended {
		s.metrics.sessionsEnd.WithLabelValues(string(e)).Inc()
	}
	if len(ended) > 0 {
		s.log.Info("collected ended sessions", "count", len(ended), "records", n)
	}
}

// now is the issuer's time at the precision state is kept (whole seconds:
// Kubernetes timestamps, JWT NumericDate), so every backend sees the same
// instants.
func (s *Server) now() time.Time { return s.clock.Now().Truncate(time.Second) }

// sessionDeadlines are a session's deadlines under the Tenant's settings,
// its absolute one brought forward to its connection's maxAge.
func (c *config) sessionDeadlines(sess store.Session, who *person) lifetime.Deadlines {
	d := c.tenant.Session.DeadlinesOf(sess.AuthTime, sess.LastActivity)
	if end := c.loginDeadline(who, sess.AuthTime); !end.IsZero() && end.Before(d.Absolute) {
		d.Absolute = end
		if d.Idle.After(end) {
			d.Idle = end
		}
	}
	return d
}
