package lifetime

import (
	"fmt"
	"strings"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Summary is the one-paragraph, plain-English account of every lifetime of
// an application, used as its Ready message. It gives the reachable values
// (what tokens really live) and says which ones the session cut.
func (a Application) Summary() string {
	var b strings.Builder
	if a.IDToken != nil {
		fmt.Fprintf(&b, "ID tokens last %s. ", Canonical(a.Reachable(*a.IDToken).Duration))
	}
	b.WriteString("Access tokens: ")
	if len(a.AccessTokens) == 0 {
		b.WriteString("no APIs granted. ")
	} else {
		parts := make([]string, 0, len(a.AccessTokens))
		for _, t := range a.AccessTokens {
			parts = append(parts, fmt.Sprintf("%s %s (%s flow)", t.API.Name, Canonical(a.Reachable(t.Lifetime).Duration), flowWord(t.Flow)))
		}
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(". ")
	}
	if a.Session == nil {
		b.WriteString("Machine-to-machine: no users, so no ID tokens, sessions or refresh tokens.")
		return b.String()
	}
	fmt.Fprintf(&b, "Users log in again after %s without activity, and after %s at the latest",
		Canonical(a.Session.Inactivity.Duration), Canonical(a.Session.Absolute.Duration))
	var tokens []string
	for _, c := range a.cutBySession() {
		if !c.refresh {
			tokens = append(tokens, c.what)
		}
	}
	if len(tokens) > 0 {
		fmt.Fprintf(&b, "; nothing issued for them outlives that, so %s last %s at most",
			joinAnd(tokens), Canonical(a.Session.Absolute.Duration))
	}
	b.WriteString(".")
	if r := a.Refresh; r != nil {
		rotation := "rotate on every use"
		if r.Rotation == v1alpha1.RotationDisabled {
			rotation = "do not rotate"
		}
		absolute, inactivity := a.ReachableRefresh()
		switch {
		case inactivity.capped(): // then absolute is cut too: inactivity ≤ absolute
			fmt.Fprintf(&b, " Refresh tokens %s and end with the session, %s after login at the latest (their %s inactivity and %s absolute lifetimes never apply).",
				rotation, Canonical(absolute.Duration), Canonical(inactivity.Configured.Duration), Canonical(absolute.Configured.Duration))
		case absolute.capped():
			fmt.Fprintf(&b, " Refresh tokens %s, expire after %s unused, and end with the session, %s after login at the latest (their %s absolute lifetime never applies).",
				rotation, Canonical(inactivity.Duration), Canonical(absolute.Duration), Canonical(absolute.Configured.Duration))
		case r.AllowOfflineAccess:
			fmt.Fprintf(&b, " Refresh tokens %s, expire after %s unused or %s after the grant, and end with the session unless offline_access was requested.",
				rotation, Canonical(inactivity.Duration), Canonical(absolute.Duration))
		default:
			fmt.Fprintf(&b, " Refresh tokens %s, expire after %s unused or %s after the grant, and end with the session.",
				rotation, Canonical(inactivity.Duration), Canonical(absolute.Duration))
		}
	}
	return b.String()
}

// sessionCut is a token whose reachable lifetime the session's
// absoluteTimeout decides.
type sessionCut struct {
	// what names the tokens and their configured lifetime, e.g. "ID tokens
	// set to 2h".
	what       string
	configured Setting
	refresh    bool
}

// cutBySession lists the tokens of the application whose reachable
// lifetime the session's absoluteTimeout decides.
func (a Application) cutBySession() []sessionCut {
	var out []sessionCut
	if a.IDToken != nil {
		if r := a.Reachable(*a.IDToken); r.capped() {
			out = append(out, sessionCut{what: "ID tokens set to " + Canonical(r.Configured.Duration), configured: *r.Configured})
		}
	}
	for _, t := range a.AccessTokens {
		if r := a.Reachable(t.Lifetime); r.capped() {
			out = append(out, sessionCut{what: fmt.Sprintf("%s access tokens set to %s (%s flow)", t.API.Name, Canonical(r.Configured.Duration), flowWord(t.Flow)),
				configured: *r.Configured})
		}
	}
	if absolute, _ := a.ReachableRefresh(); absolute.capped() {
		out = append(out, sessionCut{what: "refresh tokens set to " + Canonical(absolute.Configured.Duration), configured: *absolute.Configured, refresh: true})
	}
	return out
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// Summary is the one-line account of an API's access token lifetimes.
func (a API) Summary() string {
	s := fmt.Sprintf("Access tokens for %s last %s in standard flows and %s in browser flows, signed with %s.",
		a.Audience, Canonical(a.Standard.Duration), Canonical(a.Browser.Duration), a.SigningAlgorithm)
	if abs := a.session.Absolute.Duration; abs != 0 && max(a.Standard.Duration, a.Browser.Duration) > abs {
		s += fmt.Sprintf(" Those issued on behalf of a user end with the user's session, %s after login at most.", Canonical(abs))
	}
	return s
}

// Summary is the one-line account of a tenant's sessions.
func (t Tenant) Summary() string {
	return fmt.Sprintf("Users log in again after %s without activity, and after %s at the latest. Tokens are signed with %s.",
		Canonical(t.Session.Inactivity.Duration), Canonical(t.Session.Absolute.Duration), t.SigningAlgorithm)
}
