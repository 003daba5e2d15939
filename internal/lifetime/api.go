package lifetime

import (
	"fmt"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// API is the effective access token configuration of one API.
type API struct {
	// Ref is "<namespace>/<name>" of the API object.
	Ref              string
	Name             string
	Audience         string
	Standard         Setting
	Browser          Setting
	SigningAlgorithm v1alpha1.SigningAlgorithm
	Enforcement      Enforcement

	// tenantName names the Tenant in advisories.
	tenantName string
	// session is the tenant's: tokens issued on behalf of a user end with
	// it. The API's own lifetimes stay as they are (machine-to-machine
	// clients and offline_access refreshes get them in full); each
	// Application's matrix reports what its tokens reach.
	session Session
}

// ForAPI computes the effective access token lifetimes of the API
// namespace/name with spec under tenant.
func ForAPI(tenant Tenant, namespace, name string, spec v1alpha1.APISpec) API {
	ref := func(path string) string { return fieldRef("API", name, path) }
	out := API{
		Ref:              namespace + "/" + name,
		Name:             name,
		Audience:         spec.Audience,
		SigningAlgorithm: orDefault(spec.SigningAlgorithm, tenant.SigningAlgorithm),
		tenantName:       tenant.Name,
		session:          tenant.Session,
	}
	mode := tenant.PolicyMode

	out.Standard = out.Enforcement.apply(
		request(spec.TokenLifetime, DefaultTokenLifetime, ref("tokenLifetime")),
		tenant.policy.accessToken, mode)

	browserCeiling := tenant.policy.browserAccessToken
	if c := tenant.policy.accessToken; c.Duration != 0 && (browserCeiling.Duration == 0 || c.Duration < browserCeiling.Duration) {
		// Browser tokens are access tokens too: the general ceiling binds them.
		browserCeiling = c
	}
	browser := request(spec.TokenLifetimeForBrowserFlows, DefaultTokenLifetimeForBrowserFlows, ref("tokenLifetimeForBrowserFlows"))
	out.Browser = out.Enforcement.apply(browser, browserCeiling, mode)
	// Admission rejects an explicit browser lifetime above an explicit
	// standard one; this lowers the 2h default under a shorter standard
	// lifetime, and follows a clamped standard lifetime down.
	out.Browser = lowerTo(out.Browser, out.Standard)

	return out
}

// Lifetime returns the access token lifetime for flow.
func (a API) Lifetime(flow v1alpha1.AccessFlow) Setting {
	if flow == v1alpha1.FlowBrowser {
		return a.Browser
	}
	return a.Standard
}

// Status renders the API's effective lifetimes as they appear in API status.
func (a API) Status() v1alpha1.APIEffective {
	return v1alpha1.APIEffective{
		TokenLifetime:                a.Standard.Status(),
		TokenLifetimeForBrowserFlows: a.Browser.Status(),
		SigningAlgorithm:             a.SigningAlgorithm,
	}
}

// Advise lists the advisories of the API's status: valid settings a
// reviewer should look at twice. Only status needs them; the issuer never
// computes them.
func (a API) Advise() []v1alpha1.Advisory {
	var out []v1alpha1.Advisory
	if a.Browser.Duration == a.Standard.Duration {
		out = append(out, v1alpha1.Advisory{
			Reason: "BrowserLifetimeNotShorter",
			Message: fmt.Sprintf("Access tokens for %s live %s in browser flows, as long as in standard flows: "+
				"set spec.tokenLifetimeForBrowserFlows shorter, since code in a browser cannot keep a token safe.",
				a.Name, Canonical(a.Browser.Duration)),
		})
	}
	if abs := a.session.Absolute; a.Standard.Duration > abs.Duration || a.Browser.Duration > abs.Duration {
		out = append(out, v1alpha1.Advisory{
			Reason: AdviceUserTokensEndWithSession,
			Message: fmt.Sprintf("Sessions of Tenant %s end %s after login (%s), and no token issued on behalf of a user outlives its session: "+
				"user tokens for %s live at most %s, not the %s here. Machine-to-machine clients, and applications refreshing with offline_access, get the full lifetime; "+
				"each Application's status shows what its tokens reach.",
				a.tenantName, Canonical(abs.Duration), abs.BoundBy, a.Name, Canonical(abs.Duration),
				Canonical(max(a.Standard.Duration, a.Browser.Duration))),
		})
	}
	return out
}
