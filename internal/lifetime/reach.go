package lifetime

import "time"

// Reachable lifetimes. Status reports the longest a real token can live.
// Tokens issued on behalf of a user get exp = TokenExpiry(now, lifetime,
// the session's absolute deadline); the longest of those is a token issued
// at the moment of login, so no user's token outlives the session's
// absoluteTimeout, whatever its own lifetime says. Machine-to-machine tokens
// have no session and are not cut.

// Reach is the longest exp - iat a token with lifetime life can have when
// it is issued on behalf of a user in a session: TokenExpiry (what the
// issuer applies) for a token issued at login. When the session's
// absoluteTimeout is shorter than life, it decides: the result is bound by
// it and keeps life as Configured, so status shows both.
func (s Session) Reach(life Setting) Setting {
	login := time.Unix(0, 0)
	reach := TokenExpiry(login, life.Duration, login.Add(s.Absolute.Duration)).Sub(login)
	if reach >= life.Duration {
		return life
	}
	configured := life
	return Setting{Duration: reach, BoundBy: s.Absolute.BoundBy, Configured: &configured}
}

// SessionBound reports whether every token issued to the application is
// cut at the end of a user's session. MachineToMachine applications have
// no sessions; an application allowed offline_access can hold refresh
// tokens outside any session, and ID and access tokens refreshed with them
// live their full lifetimes (the issuer has no session deadline to cut
// them at).
func (a Application) SessionBound() bool {
	return a.Session != nil && (a.Refresh == nil || !a.Refresh.AllowOfflineAccess)
}

// Reachable is the longest exp - iat of a token with lifetime life issued
// to the application: life itself, or, when every token of the
// application is session-bound, at most the session's absoluteTimeout.
func (a Application) Reachable(life Setting) Setting {
	if !a.SessionBound() {
		return life
	}
	return a.Session.Reach(life)
}

// ReachableRefresh is the longest a refresh token family of the
// application can be used: its absolute and inactivity lifetimes, both at
// most the session's absoluteTimeout when families are bound to the
// session (they end with it). Offline families keep their own lifetimes.
func (a Application) ReachableRefresh() (absolute, inactivity Setting) {
	r := a.Refresh
	if r == nil {
		return Setting{}, Setting{}
	}
	return a.Reachable(r.Absolute), a.Reachable(r.Inactivity)
}

// capped reports whether the session cap decided s.
func (s Setting) capped() bool { return s.Configured != nil }
