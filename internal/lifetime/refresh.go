package lifetime

import "time"

// ExpiryOf is the moment a refresh token stops working: its inactivity
// lifetime counted from its last use (or issue), never beyond its absolute
// lifetime counted from the original grant. Rotation does not move the
// absolute deadline. Session binding is checked separately (the session's own
// deadlines), since offline tokens have none.
func (r Refresh) ExpiryOf(grantedAt, lastUsed time.Time) time.Time {
	abs := grantedAt.Add(r.Absolute.Duration)
	idle := lastUsed.Add(r.Inactivity.Duration)
	if idle.After(abs) {
		return abs
	}
	return idle
}

// ReuseTolerated reports whether presenting a token that was already rotated
// at rotatedAt is a tolerated retry at now (within reuseInterval) rather than
// a reuse that revokes the token's family. The interval is exclusive, like
// every deadline: at exactly rotatedAt + reuseInterval it is a reuse.
func (r Refresh) ReuseTolerated(rotatedAt, now time.Time) bool {
	return now.Before(rotatedAt.Add(r.ReuseInterval.Duration))
}
