package lifetime

import (
	"fmt"
	"strings"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Summary is the one-paragraph, plain-English account of every lifetime of
// an application, used as its Ready message.
func (a Application) Summary() string {
	var b strings.Builder
	if a.IDToken != nil {
		fmt.Fprintf(&b, "ID tokens last %s. ", Canonical(a.IDToken.Duration))
	}
	b.WriteString("Access tokens: ")
	if len(a.AccessTokens) == 0 {
		b.WriteString("no APIs granted. ")
	} else {
		parts := make([]string, 0, len(a.AccessTokens))
		for _, t := range a.AccessTokens {
			parts = append(parts, fmt.Sprintf("%s %s (%s flow)", t.API.Name, Canonical(t.Lifetime.Duration), flowWord(t.Flow)))
		}
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(". ")
	}
	if a.Session == nil {
		b.WriteString("Machine-to-machine: no users, so no ID tokens, sessions or refresh tokens.")
		return b.String()
	}
	fmt.Fprintf(&b, "Users log in again after %s without activity, and after %s at the latest.",
		Canonical(a.Session.Inactivity.Duration), Canonical(a.Session.Absolute.Duration))
	if r := a.Refresh; r != nil {
		rotation := "rotate on every use"
		if r.Rotation == v1alpha1.RotationDisabled {
			rotation = "do not rotate"
		}
		ending := "and end with the session"
		if r.AllowOfflineAccess {
			ending = "and end with the session unless offline_access was requested"
		}
		fmt.Fprintf(&b, " Refresh tokens %s, expire after %s unused or %s after the grant, %s.",
			rotation, Canonical(r.Inactivity.Duration), Canonical(r.Absolute.Duration), ending)
	}
	return b.String()
}

// Summary is the one-line account of an API's access token lifetimes.
func (a API) Summary() string {
	return fmt.Sprintf("Access tokens for %s last %s in standard flows and %s in browser flows, signed with %s.",
		a.Audience, Canonical(a.Standard.Duration), Canonical(a.Browser.Duration), a.SigningAlgorithm)
}

// Summary is the one-line account of a tenant's sessions.
func (t Tenant) Summary() string {
	return fmt.Sprintf("Users log in again after %s without activity, and after %s at the latest. Tokens are signed with %s.",
		Canonical(t.Session.Inactivity.Duration), Canonical(t.Session.Absolute.Duration), t.SigningAlgorithm)
}
