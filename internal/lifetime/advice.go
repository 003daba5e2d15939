package lifetime

import (
	"fmt"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Advisory reasons: valid combinations a reviewer should look at twice.
const (
	AdviceAccessTokenOutlivesIdleSession = "AccessTokenOutlivesIdleSession"
	AdviceIDTokenOutlivesSession         = "IDTokenOutlivesSession"
	AdviceOfflineAccessOutlivesSession   = "OfflineAccessOutlivesSession"
	AdviceRotationDisabledPublicClient   = "RefreshRotationDisabledForPublicClient"
	AdviceFrontChannelTokens             = "FrontChannelAccessTokens"
)

// advise lists the advisories for a user-facing application's matrix.
func advise(a Application, spec v1alpha1.ApplicationSpec) []v1alpha1.Advisory {
	var out []v1alpha1.Advisory
	add := func(reason, format string, args ...any) {
		out = append(out, v1alpha1.Advisory{Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	idle := a.Session.Inactivity.Duration
	for _, t := range a.AccessTokens {
		if t.Lifetime.Duration > idle {
			add(AdviceAccessTokenOutlivesIdleSession,
				"Access tokens for %s (%s, %s flow) outlive the %s inactivity timeout: they keep working after the user's session has ended for inactivity.",
				t.API.Name, Canonical(t.Lifetime.Duration), flowWord(t.Flow), Canonical(idle))
		}
	}
	if abs := a.Session.Absolute.Duration; a.IDToken.Duration > abs {
		add(AdviceIDTokenOutlivesSession,
			"ID tokens are set to last %s but a session ends %s after login: tokens issued late in a session expire at its absolute deadline instead.",
			Canonical(a.IDToken.Duration), Canonical(abs))
	}
	if r := a.Refresh; r.AllowOfflineAccess {
		add(AdviceOfflineAccessOutlivesSession,
			"Refresh tokens requested with offline_access are not bound to the session: they keep working after logout, for up to %s (%s unused).",
			Canonical(r.Absolute.Duration), Canonical(r.Inactivity.Duration))
	}
	if r := a.Refresh; r.Rotation == v1alpha1.RotationDisabled && (spec.Type == v1alpha1.SinglePage || spec.Type == v1alpha1.Native) {
		add(AdviceRotationDisabledPublicClient,
			"Refresh token rotation is disabled for a public %s client: a stolen refresh token stays usable for up to %s and reuse cannot be detected.",
			spec.Type, Canonical(r.Absolute.Duration))
	}
	if hasFrontChannelToken(spec.ResponseTypes) {
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
