package lifetime

import "time"

// SessionEnd says why a session is over.
type SessionEnd string

const (
	// SessionActive means the session may still be used.
	SessionActive SessionEnd = ""
	// SessionIdle means no activity within the inactivity timeout.
	SessionIdle SessionEnd = "Inactivity"
	// SessionExpired means the absolute timeout since login has passed.
	SessionExpired SessionEnd = "Absolute"
)

// Deadlines are the two moments a session ends, computed from the settings
// in force at the time of the check so a shortened timeout applies to
// existing sessions at once.
type Deadlines struct {
	// Idle is lastActivity + inactivityTimeout, never after Absolute.
	Idle time.Time
	// Absolute is authTime + absoluteTimeout.
	Absolute time.Time
}

// DeadlinesOf returns the deadlines of a session that logged in at authTime
// and was last active at lastActivity.
func (s Session) DeadlinesOf(authTime, lastActivity time.Time) Deadlines {
	abs := authTime.Add(s.Absolute.Duration)
	idle := lastActivity.Add(s.Inactivity.Duration)
	if idle.After(abs) {
		idle = abs
	}
	return Deadlines{Idle: idle, Absolute: abs}
}

// EndAt reports whether the session is over at now, and why. A deadline is
// exclusive: at exactly the deadline the session is over.
func (d Deadlines) EndAt(now time.Time) SessionEnd {
	switch {
	case !now.Before(d.Absolute):
		return SessionExpired
	case !now.Before(d.Idle):
		return SessionIdle
	default:
		return SessionActive
	}
}

// TokenExpiry is the exp of a token issued at now with lifetime, for a user
// whose session ends at absoluteDeadline: min(now + lifetime, deadline). A
// zero deadline (no session, e.g. client_credentials or offline access)
// leaves the lifetime alone.
func TokenExpiry(now time.Time, lifetime time.Duration, absoluteDeadline time.Time) time.Time {
	exp := now.Add(lifetime)
	if !absoluteDeadline.IsZero() && absoluteDeadline.Before(exp) {
		return absoluteDeadline
	}
	return exp
}
