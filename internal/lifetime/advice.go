package lifetime

import (
	"fmt"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Advisory reasons: valid combinations a reviewer should look at twice.
const (
	AdviceAccessTokenOutlivesIdleSession = "AccessTokenOutlivesIdleSession"
	AdviceSessionCapsLifetimes           = "SessionCapsLifetimes"
	AdviceUserTokensEndWithSession       = "UserTokensEndWithSession"
	AdviceOfflineAccessOutlivesSession   = "OfflineAccessOutlivesSession"
	AdviceRotationDisabledPublicClient   = "RefreshRotationDisabledForPublicClient"
	AdviceFrontChannelTokens             = "FrontChannelAccessTokens"
)

// Advise lists the advisories of the Application's status: valid settings
// a reviewer should look at twice. Only status needs them; the issuer never
// computes them. Machine-to-machine applications get none.
func (a Application) Advise() []v1alpha1.Advisory {
	if a.Type == v1alpha1.MachineToMachine {
		return nil
	}
	var out []v1alpha1.Advisory
	add := func(reason, format string, args ...any) {
		out = append(out, v1alpha1.Advisory{Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	idle := a.Session.Inactivity.Duration
	for _, t := range a.AccessTokens {
		if life := a.Reachable(t.Lifetime).Duration; life > idle {
			add(AdviceAccessTokenOutlivesIdleSession,
				"Access tokens for %s (%s, %s flow) outlive the %s inactivity timeout: they keep working after the user's session has ended for inactivity.",
				t.API.Name, Canonical(life), flowWord(t.Flow), Canonical(idle))
		}
	}
	abs := a.Session.Absolute
	// The defaults alone (sessions of 168h, refresh tokens of 720h) are the
	// project's choice, said in status (boundBy, configured), not a
	// reviewer's surprise: advise when somebody set one of the two.
	var cut []string
	for _, c := range a.cutBySession() {
		if !c.configured.isDefault() || !abs.isDefault() {
			cut = append(cut, c.what)
		}
	}
	if len(cut) > 0 {
		add(AdviceSessionCapsLifetimes,
			"Sessions end %s after login (%s) and nothing issued on a user's behalf outlives its session, so %s last at most %s, "+
				"and less when issued later in a session: status shows %s with the configured value beside it. "+
				"Lower those lifetimes or raise the session's absoluteTimeout to make the settings say what happens.",
			Canonical(abs.Duration), abs.BoundBy, joinAnd(cut), Canonical(abs.Duration), Canonical(abs.Duration))
	}
	if r := a.Refresh; r.AllowOfflineAccess {
		msg := fmt.Sprintf("Refresh tokens requested with offline_access are not bound to the session: they keep working after logout, for up to %s (%s unused).",
			Canonical(r.Absolute.Duration), Canonical(r.Inactivity.Duration))
		// What the session would cut if the application had no offline
		// access: the ID and access tokens that escape it.
		bound := a
		bound.Refresh = nil
		var escape []string
		for _, c := range bound.cutBySession() {
			escape = append(escape, c.what)
		}
		if len(escape) > 0 {
			msg += fmt.Sprintf(" Tokens refreshed with them are not cut at a session's end either: %s live their full lifetimes that way, "+
				"while those issued within a session end with it, %s after login at most.", joinAnd(escape), Canonical(abs.Duration))
		}
		add(AdviceOfflineAccessOutlivesSession, "%s", msg)
	}
	if r := a.Refresh; r.Rotation == v1alpha1.RotationDisabled && (a.Type == v1alpha1.SinglePage || a.Type == v1alpha1.Native) {
		add(AdviceRotationDisabledPublicClient,
			"Refresh token rotation is disabled for a public %s client: a stolen refresh token stays usable for up to %s and reuse cannot be detected.",
			a.Type, Canonical(r.Absolute.Duration))
	}
	if a.frontChannelTokens {
		add(AdviceFrontChannelTokens,
			"spec.responseTypes lets the authorization endpoint return access tokens in the browser's address bar (implicit or hybrid flow), which the OAuth 2.0 Security Best Current Practice advises against; those tokens get the browser-flow lifetime.")
	}
	return out
}

func flowWord(f v1alpha1.AccessFlow) string {
	if f == v1alpha1.FlowBrowser {
		return "browser"
	}
	return "standard"
}
