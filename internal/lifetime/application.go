package lifetime

import (
	"fmt"
	"strings"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// AccessToken is the effective lifetime of access tokens for one API in one
// flow, as issued to one application.
type AccessToken struct {
	API      API
	Flow     v1alpha1.AccessFlow
	FlowRule string
	Lifetime Setting
	Scopes   []string
}

// Refresh is the effective refresh token behaviour of an application.
type Refresh struct {
	Rotation           v1alpha1.RefreshTokenRotation
	ReuseInterval      Setting
	Inactivity         Setting
	Absolute           Setting
	AllowOfflineAccess bool
	// OfflineGrantsPerUser bounds a user's offline families with the
	// application (spec.refreshToken.offlineGrantsPerUser, default 10).
	OfflineGrantsPerUser int
}

// DefaultOfflineGrantsPerUser is spec.refreshToken.offlineGrantsPerUser's
// default.
const DefaultOfflineGrantsPerUser = 10

// Application is the effective lifetimes matrix of one application. Its
// fields hold each token's lifetime as the issuer applies it per token
// (TokenExpiry then cuts user tokens at their session's end); Status,
// Summary and the advisories report what tokens can reach (Reachable).
type Application struct {
	Type         v1alpha1.ApplicationType
	IDToken      *Setting
	AccessTokens []AccessToken
	Session      *Session
	Refresh      *Refresh
	Enforcement  Enforcement

	// frontChannelTokens: spec.responseTypes lets the authorization
	// endpoint return access tokens (for advisories).
	frontChannelTokens bool
}

// ForApplication computes the effective lifetimes of the Application named
// name with spec under tenant, for the APIs it may call. apis must hold the
// effective configuration (ForAPI) of every API in spec.APIs, in the same
// order; the caller resolves them.
func ForApplication(tenant Tenant, name string, spec v1alpha1.ApplicationSpec, apis []API) Application {
	ref := func(path string) string { return fieldRef("Application", name, path) }
	out := Application{Type: spec.Type, frontChannelTokens: hasFrontChannelToken(spec.ResponseTypes)}

	for i, api := range apis {
		var scopes []string
		if i < len(spec.APIs) {
			for _, s := range spec.APIs[i].Scopes {
				scopes = append(scopes, string(s))
			}
		}
		for _, f := range flowsOf(spec) {
			out.AccessTokens = append(out.AccessTokens, AccessToken{
				API: api, Flow: f.flow, FlowRule: f.rule, Lifetime: api.Lifetime(f.flow), Scopes: scopes,
			})
		}
	}

	if spec.Type == v1alpha1.MachineToMachine {
		return out
	}

	id := out.Enforcement.apply(request(spec.IDTokenLifetime, DefaultIDTokenLifetime, ref("idTokenLifetime")),
		tenant.policy.idToken, tenant.PolicyMode)
	out.IDToken = &id
	session := tenant.Session
	out.Session = &session
	out.Refresh = refreshFor(tenant, spec.RefreshToken, ref, &out.Enforcement)
	return out
}

func refreshFor(tenant Tenant, spec *v1alpha1.RefreshTokenSpec, ref func(string) string, e *Enforcement) *Refresh {
	if spec == nil {
		spec = &v1alpha1.RefreshTokenSpec{}
	}
	r := &Refresh{
		Rotation:             orDefault(spec.Rotation, v1alpha1.RotationEnabled),
		ReuseInterval:        request(spec.ReuseInterval, DefaultRefreshReuseInterval, ref("refreshToken.reuseInterval")).setting(),
		AllowOfflineAccess:   spec.AllowOfflineAccess,
		OfflineGrantsPerUser: DefaultOfflineGrantsPerUser,
	}
	if spec.OfflineGrantsPerUser != nil && *spec.OfflineGrantsPerUser > 0 {
		r.OfflineGrantsPerUser = int(min(*spec.OfflineGrantsPerUser, 100))
	}
	r.Absolute = e.apply(request(spec.AbsoluteLifetime, DefaultRefreshAbsoluteLifetime, ref("refreshToken.absoluteLifetime")),
		tenant.policy.refreshToken, tenant.PolicyMode)
	r.Inactivity = e.apply(request(spec.InactivityLifetime, DefaultRefreshInactivityLifetime, ref("refreshToken.inactivityLifetime")),
		tenant.policy.refreshToken, tenant.PolicyMode)
	r.Inactivity = lowerTo(r.Inactivity, r.Absolute)
	if r.Rotation == v1alpha1.RotationDisabled {
		// Nothing is rotated, so nothing is reused.
		r.ReuseInterval = Setting{BoundBy: ref("refreshToken.rotation")}
	}
	return r
}

type flowRule struct {
	flow v1alpha1.AccessFlow
	rule string
}

// FlowFor decides whether an access token is issued in a browser flow
// (README.md, "The five lifetimes"): delivered through the front channel, or issued to a
// SinglePage application, whose code runs in a browser and cannot keep
// secrets. It returns the flow and the rule that decided it.
func FlowFor(appType v1alpha1.ApplicationType, frontChannel bool) (v1alpha1.AccessFlow, string) {
	switch {
	case appType == v1alpha1.SinglePage:
		return v1alpha1.FlowBrowser, "SinglePage application (code runs in the browser)"
	case frontChannel:
		return v1alpha1.FlowBrowser, "response_type containing token (front channel)"
	case appType == v1alpha1.MachineToMachine:
		return v1alpha1.FlowStandard, "client_credentials grant (MachineToMachine)"
	default:
		return v1alpha1.FlowStandard, fmt.Sprintf("token endpoint grant (%s application)", appType)
	}
}

// flowsOf lists the flows in which app can receive access tokens.
func flowsOf(spec v1alpha1.ApplicationSpec) []flowRule {
	f, rule := FlowFor(spec.Type, false)
	flows := []flowRule{{f, rule}}
	if spec.Type != v1alpha1.SinglePage && hasFrontChannelToken(spec.ResponseTypes) {
		f, rule := FlowFor(spec.Type, true)
		flows = append(flows, flowRule{f, rule})
	}
	return flows
}

// hasFrontChannelToken reports whether any response type returns an access
// token from the authorization endpoint (implicit or hybrid).
func hasFrontChannelToken(types []v1alpha1.ResponseType) bool {
	for _, t := range types {
		if ResponseTypeDeliversToken(string(t)) {
			return true
		}
	}
	return false
}

// ResponseTypeDeliversToken reports whether response_type rt makes the
// authorization endpoint return an access token (it contains "token").
func ResponseTypeDeliversToken(rt string) bool {
	for _, part := range strings.Fields(rt) {
		if part == "token" {
			return true
		}
	}
	return false
}

// Lookup returns the access token entry for the API with the given ref
// ("<namespace>/<name>") in flow.
func (a Application) Lookup(apiRef string, flow v1alpha1.AccessFlow) (AccessToken, bool) {
	for _, t := range a.AccessTokens {
		if t.API.Ref == apiRef && t.Flow == flow {
			return t, true
		}
	}
	return AccessToken{}, false
}

// Status renders the matrix as it appears in Application status: the
// reachable lifetimes (Reachable), with the configured value beside any the
// session cuts.
func (a Application) Status() *v1alpha1.ApplicationEffective {
	out := &v1alpha1.ApplicationEffective{}
	if a.IDToken != nil {
		s := a.Reachable(*a.IDToken).Status()
		out.IDToken = &s
	}
	for _, t := range a.AccessTokens {
		out.AccessTokens = append(out.AccessTokens, v1alpha1.EffectiveAccessToken{
			API:              t.API.Ref,
			Audience:         t.API.Audience,
			Flow:             t.Flow,
			FlowRule:         t.FlowRule,
			Lifetime:         a.Reachable(t.Lifetime).Status(),
			SigningAlgorithm: t.API.SigningAlgorithm,
			Scopes:           t.Scopes,
		})
	}
	if a.Session != nil {
		s := a.Session.Status()
		out.Session = &s
	}
	if r := a.Refresh; r != nil {
		binding := "Session"
		if r.AllowOfflineAccess {
			binding = "SessionUnlessOfflineAccess"
		}
		absolute, inactivity := a.ReachableRefresh()
		out.RefreshToken = &v1alpha1.EffectiveRefreshToken{
			Rotation:           r.Rotation,
			ReuseInterval:      r.ReuseInterval.Status(),
			InactivityLifetime: inactivity.Status(),
			AbsoluteLifetime:   absolute.Status(),
			SessionBinding:     binding,
		}
	}
	return out
}

// UserInfoAccessToken is the lifetime of an access token issued without an
// API audience (neither audience nor resource requested): it only reaches the
// issuer's userinfo endpoint, about the same login an ID token describes, so
// it lives as long as the application's ID tokens. MachineToMachine
// applications have no users and get none.
func (a Application) UserInfoAccessToken() (Setting, bool) {
	if a.IDToken == nil {
		return Setting{}, false
	}
	return *a.IDToken, true
}
