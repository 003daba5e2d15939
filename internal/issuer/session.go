package issuer

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/lifetime"
)

const sessionCookie = "idtenant_session"

// liveSession is a session that was active at the time of the check.
type liveSession struct {
	key string // store key (digest of the cookie)
	store.Session
	deadlines lifetime.Deadlines
}

// sessionFromHeader finds the live session named by the request's cookie.
// A session past a deadline (computed from the configuration in force now)
// is ended and removed, with the reason counted.
func (s *Server) sessionFromHeader(ctx context.Context, c *config, h http.Header, now time.Time) (*liveSession, error) {
	cookie, err := (&http.Request{Header: h}).Cookie(sessionCookie)
	if err != nil || cookie.Value == "" || len(cookie.Value) > 128 {
		return nil, nil
	}
	return s.sessionByKey(ctx, c, digest(cookie.Value), now)
}

func (s *Server) sessionByKey(ctx context.Context, c *config, key string, now time.Time) (*liveSession, error) {
	if key == "" {
		return nil, nil
	}
	sess, err := s.store.GetSession(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d := c.tenant.Session.DeadlinesOf(sess.AuthTime, sess.LastActivity)
	if end := d.EndAt(now); end != lifetime.SessionActive {
		if err := s.store.DeleteSession(ctx, key); err != nil {
			return nil, err
		}
		s.metrics.sessionsEnd.WithLabelValues(string(end)).Inc()
		s.log.Info("session ended", "reason", string(end), "sid", sess.SID)
		return nil, nil
	}
	return &liveSession{key: key, Session: sess, deadlines: d}, nil
}

// touch records activity on behalf of the session's user: the idle deadline
// slides to now + inactivityTimeout (never past the absolute deadline).
func (s *Server) touch(ctx context.Context, ls *liveSession, now time.Time) error {
	ls.LastActivity = now
	return s.store.TouchSession(ctx, ls.key, now)
}

// startSession creates a session for subject and returns the cookie value.
func (s *Server) startSession(ctx context.Context, subject string, now time.Time) (string, *liveSession, error) {
	cookie := randomToken()
	sess := store.Session{SID: randomID(), Subject: subject, AuthTime: now, LastActivity: now}
	key := digest(cookie)
	if err := s.store.PutSession(ctx, key, sess); err != nil {
		return "", nil, err
	}
	s.metrics.sessionsStart.Inc()
	d := s.cfg.Load().tenant.Session.DeadlinesOf(now, now)
	return cookie, &liveSession{key: key, Session: sess, deadlines: d}, nil
}

// sessionCookieFor renders the SSO cookie: host-only (no Domain), HttpOnly,
// SameSite=Lax so top-level redirects from applications carry it, Secure on
// an https issuer. It has no Max-Age: the server-side record decides.
func sessionCookieFor(c *config, value string, maxAge int) *http.Cookie {
	path := c.path
	if path == "" {
		path = "/"
	}
	return &http.Cookie{
		Name: sessionCookie, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	}
}

// collect removes expired records and ended sessions; run periodically.
func (s *Server) collect(ctx context.Context) {
	now := s.clock.Now()
	c := s.cfg.Load()
	var ended []lifetime.SessionEnd
	n, err := s.store.Collect(ctx, now, func(sess store.Session) bool {
		end := c.tenant.Session.DeadlinesOf(sess.AuthTime, sess.LastActivity).EndAt(now)
		if end != lifetime.SessionActive {
			ended = append(ended, end)
			return true
		}
		return false
	})
	if err != nil {
		s.log.Error("collecting expired records", "error", err)
		return
	}
	for _, e := range ended {
		s.metrics.sessionsEnd.WithLabelValues(string(e)).Inc()
	}
	if n > 0 {
		s.log.Info("collected ended sessions", "count", n)
	}
}
