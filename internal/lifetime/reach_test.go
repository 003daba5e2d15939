package lifetime

import (
	"strings"
	"testing"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

const sessionCap = "Tenant acme/spec.session.absoluteTimeout"

// shortSessions is the tenant: sessions end 47m after login.
func shortSessions(s *v1alpha1.TenantSpec) {
	s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("30m"), AbsoluteTimeout: dur("47m")}
}

// reachAPIs: orders 3h standard / 20m browser, billing 50m for both.
func reachAPIs(ten Tenant) []API {
	return []API{
		forAPI(ten, api("orders", func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("3h"); s.TokenLifetimeForBrowserFlows = dur("20m") })),
		forAPI(ten, api("billing", func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("50m") })),
	}
}

// want is one reachable lifetime in status: its value and boundBy, and the
// configured value beside it ("" when the session did not decide).
type want struct {
	d            time.Duration
	by           string
	configured   time.Duration
	configuredBy string
}

func checkLifetime(t *testing.T, what string, got v1alpha1.EffectiveLifetime, w want) {
	t.Helper()
	if got.Duration != Canonical(w.d) || got.Seconds != int64(w.d/time.Second) || got.BoundBy != w.by {
		t.Errorf("%s = %s (%ds) by %q, want %s by %q", what, got.Duration, got.Seconds, got.BoundBy, Canonical(w.d), w.by)
	}
	switch {
	case w.configured == 0 && got.Configured != nil:
		t.Errorf("%s: configured %+v shown, but the session does not decide", what, *got.Configured)
	case w.configured != 0 && got.Configured == nil:
		t.Errorf("%s: configured %s by %q not shown", what, Canonical(w.configured), w.configuredBy)
	case w.configured != 0 && (got.Configured.Duration != Canonical(w.configured) ||
		got.Configured.Seconds != int64(w.configured/time.Second) || got.Configured.BoundBy != w.configuredBy):
		t.Errorf("%s: configured = %+v, want %s by %q", what, *got.Configured, Canonical(w.configured), w.configuredBy)
	}
}

// TestReachableMatrix: status reports for every application x API x flow
// the longest a real token can live: min(configured, session
// absoluteTimeout) for what is issued on behalf of a user, the configured
// value for machine-to-machine tokens and for applications whose offline
// refresh tokens escape the session.
func TestReachableMatrix(t *testing.T) {
	cut := func(d time.Duration, configured time.Duration, by string) want {
		return want{d: d, by: sessionCap, configured: configured, configuredBy: by}
	}
	keep := func(d time.Duration, by string) want { return want{d: d, by: by} }
	const m47 = 47 * time.Minute
	type access struct {
		api  string
		flow v1alpha1.AccessFlow
		want want
	}
	cases := []struct {
		name               string
		tenant             func(*v1alpha1.TenantSpec)
		typ                v1alpha1.ApplicationType
		app                func(*v1alpha1.ApplicationSpec)
		id                 *want
		access             []access
		refreshAbs, refIdl *want
	}{
		{name: "RegularWeb with hybrid: everything above 47m is cut", tenant: shortSessions, typ: v1alpha1.RegularWeb,
			app: func(s *v1alpha1.ApplicationSpec) {
				s.IDTokenLifetime = dur("2h")
				s.ResponseTypes = []v1alpha1.ResponseType{"code", "code id_token token"}
			},
			id: new(cut(m47, h(2), "Application storefront/spec.idTokenLifetime")),
			access: []access{
				{"orders", v1alpha1.FlowStandard, cut(m47, h(3), "API orders/spec.tokenLifetime")},
				{"orders", v1alpha1.FlowBrowser, keep(20*time.Minute, "API orders/spec.tokenLifetimeForBrowserFlows")},
				{"billing", v1alpha1.FlowStandard, cut(m47, 50*time.Minute, "API billing/spec.tokenLifetime")},
				// billing's default 2h browser lifetime follows its 50m standard one down, then the session cuts.
				{"billing", v1alpha1.FlowBrowser, cut(m47, 50*time.Minute, "API billing/spec.tokenLifetime")},
			},
			refreshAbs: new(cut(m47, h(720), "Application storefront/spec.refreshToken.absoluteLifetime (default)")),
			refIdl:     new(cut(m47, h(360), "Application storefront/spec.refreshToken.inactivityLifetime (default)"))},
		{name: "SinglePage: a 45m ID token is within the session", tenant: shortSessions, typ: v1alpha1.SinglePage,
			app: func(s *v1alpha1.ApplicationSpec) { s.IDTokenLifetime = dur("45m") },
			id:  new(keep(45*time.Minute, "Application storefront/spec.idTokenLifetime")),
			access: []access{
				{"orders", v1alpha1.FlowBrowser, keep(20*time.Minute, "API orders/spec.tokenLifetimeForBrowserFlows")},
				{"billing", v1alpha1.FlowBrowser, cut(m47, 50*time.Minute, "API billing/spec.tokenLifetime")},
			}},
		{name: "a lifetime equal to the session is its own", tenant: shortSessions, typ: v1alpha1.Native,
			app: func(s *v1alpha1.ApplicationSpec) { s.IDTokenLifetime = dur("47m") },
			id:  new(keep(m47, "Application storefront/spec.idTokenLifetime"))},
		{name: "MachineToMachine is never cut", tenant: shortSessions, typ: v1alpha1.MachineToMachine,
			access: []access{
				{"orders", v1alpha1.FlowStandard, keep(h(3), "API orders/spec.tokenLifetime")},
				{"billing", v1alpha1.FlowStandard, keep(50*time.Minute, "API billing/spec.tokenLifetime")},
			}},
		{name: "offline_access escapes the session: full lifetimes", tenant: shortSessions, typ: v1alpha1.Native,
			app: func(s *v1alpha1.ApplicationSpec) {
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{AllowOfflineAccess: true, AbsoluteLifetime: dur("24h")}
			},
			id: new(keep(h(10), "Application storefront/spec.idTokenLifetime (default)")),
			access: []access{
				{"orders", v1alpha1.FlowStandard, keep(h(3), "API orders/spec.tokenLifetime")},
				{"billing", v1alpha1.FlowStandard, keep(50*time.Minute, "API billing/spec.tokenLifetime")},
			},
			refreshAbs: new(keep(h(24), "Application storefront/spec.refreshToken.absoluteLifetime")),
			refIdl:     new(keep(h(24), "Application storefront/spec.refreshToken.absoluteLifetime"))},
		{name: "the default session cuts an explicit 720h ID token", typ: v1alpha1.RegularWeb,
			app: func(s *v1alpha1.ApplicationSpec) { s.IDTokenLifetime = dur("720h") },
			id:  &want{d: h(168), by: sessionCap + " (default)", configured: h(720), configuredBy: "Application storefront/spec.idTokenLifetime"},
			refreshAbs: &want{d: h(168), by: sessionCap + " (default)", configured: h(720),
				configuredBy: "Application storefront/spec.refreshToken.absoluteLifetime (default)"}},
		{name: "a clamped value cut by the session shows the ceiling as configured", typ: v1alpha1.RegularWeb,
			tenant: func(s *v1alpha1.TenantSpec) {
				shortSessions(s)
				s.Policy = &v1alpha1.LifetimePolicy{MaxIDTokenLifetime: dur("1h")}
			},
			app: func(s *v1alpha1.ApplicationSpec) { s.IDTokenLifetime = dur("2h") },
			id:  new(cut(m47, h(1), "Tenant acme/spec.policy.maxIDTokenLifetime"))},
		{name: "refresh tokens within the session keep their own lifetimes", typ: v1alpha1.RegularWeb,
			tenant: func(s *v1alpha1.TenantSpec) { s.Session = &v1alpha1.SessionSpec{AbsoluteTimeout: dur("48h")} },
			app: func(s *v1alpha1.ApplicationSpec) {
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{InactivityLifetime: dur("8h"), AbsoluteLifetime: dur("24h")}
			},
			refreshAbs: new(keep(h(24), "Application storefront/spec.refreshToken.absoluteLifetime")),
			refIdl:     new(keep(h(8), "Application storefront/spec.refreshToken.inactivityLifetime"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ten := forTenant(tenant(c.tenant))
			a := app(c.typ, func(s *v1alpha1.ApplicationSpec) {
				s.APIs = []v1alpha1.APIAccess{{Name: "orders"}, {Name: "billing"}}
				if c.app != nil {
					c.app(s)
				}
			})
			got := forApplication(ten, a, reachAPIs(ten))
			st := got.Status()
			if c.id != nil {
				checkLifetime(t, "idToken", *st.IDToken, *c.id)
			}
			if c.access != nil {
				if len(st.AccessTokens) != len(c.access) {
					t.Fatalf("access tokens = %+v, want %d entries", st.AccessTokens, len(c.access))
				}
				for i, w := range c.access {
					at := st.AccessTokens[i]
					if at.API != "shop/"+w.api || at.Flow != w.flow {
						t.Fatalf("entry %d is %s %s, want %s %s", i, at.API, at.Flow, w.api, w.flow)
					}
					checkLifetime(t, w.api+" "+string(w.flow), at.Lifetime, w.want)
				}
			}
			if c.refreshAbs != nil {
				checkLifetime(t, "refresh absolute", st.RefreshToken.AbsoluteLifetime, *c.refreshAbs)
			}
			if c.refIdl != nil {
				checkLifetime(t, "refresh inactivity", st.RefreshToken.InactivityLifetime, *c.refIdl)
			}
		})
	}
}

// TestStatusIsWhatTheIssuerMints: status and the issuer come from the same
// code. For every cell of the matrix, the issuer's path (Lookup, then
// TokenExpiry with the session's absolute deadline, or none for
// machine-to-machine and offline refreshes) gives a token issued at login
// exactly the lifetime status reports, and a token issued later in the
// session never more.
func TestStatusIsWhatTheIssuerMints(t *testing.T) {
	ten := forTenant(tenant(shortSessions))
	apis := reachAPIs(ten)
	login := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, typ := range []v1alpha1.ApplicationType{v1alpha1.SinglePage, v1alpha1.RegularWeb, v1alpha1.Native, v1alpha1.MachineToMachine} {
		for _, offline := range []bool{false, true} {
			if offline && typ == v1alpha1.MachineToMachine {
				continue
			}
			a := forApplication(ten, app(typ, func(s *v1alpha1.ApplicationSpec) {
				s.APIs = []v1alpha1.APIAccess{{Name: "orders"}, {Name: "billing"}}
				if typ != v1alpha1.MachineToMachine {
					s.IDTokenLifetime = dur("2h")
					s.ResponseTypes = []v1alpha1.ResponseType{"code", "code token"}
					s.RefreshToken = &v1alpha1.RefreshTokenSpec{AllowOfflineAccess: offline}
				}
			}), apis)
			// The deadline the issuer gives the grant: the session's, except
			// for client_credentials and tokens refreshed offline.
			deadline := login.Add(ten.Session.Absolute.Duration)
			if typ == v1alpha1.MachineToMachine || offline {
				deadline = time.Time{}
			}
			st := a.Status()
			for _, cell := range st.AccessTokens {
				issued, ok := a.Lookup(cell.API, cell.Flow)
				if !ok {
					t.Fatalf("%s: status lists %s %s, the issuer does not", typ, cell.API, cell.Flow)
				}
				longest := TokenExpiry(login, issued.Lifetime.Duration, deadline).Sub(login)
				if int64(longest/time.Second) != cell.Lifetime.Seconds {
					t.Errorf("%s offline=%v %s %s: issuer mints %v at login, status says %ds", typ, offline, cell.API, cell.Flow, longest, cell.Lifetime.Seconds)
				}
				later := login.Add(40 * time.Minute)
				if l := TokenExpiry(later, issued.Lifetime.Duration, deadline).Sub(later); int64(l/time.Second) > cell.Lifetime.Seconds {
					t.Errorf("%s %s %s: a token issued 40m into the session lives %v, beyond status", typ, cell.API, cell.Flow, l)
				}
			}
			if a.IDToken != nil {
				longest := TokenExpiry(login, a.IDToken.Duration, deadline).Sub(login)
				if int64(longest/time.Second) != st.IDToken.Seconds {
					t.Errorf("%s offline=%v: ID token minted with %v at login, status says %ds", typ, offline, longest, st.IDToken.Seconds)
				}
			}
		}
	}
}

func TestSessionCapAdvisoriesAndSummary(t *testing.T) {
	ten := forTenant(tenant(shortSessions))
	web := forApplication(ten, app(v1alpha1.RegularWeb, func(s *v1alpha1.ApplicationSpec) {
		s.APIs = []v1alpha1.APIAccess{{Name: "orders"}, {Name: "billing"}}
		s.IDTokenLifetime = dur("2h")
	}), reachAPIs(ten))
	wantSummary := "ID tokens last 47m. Access tokens: orders 47m (standard flow), billing 47m (standard flow). " +
		"Users log in again after 30m without activity, and after 47m at the latest; nothing issued for them outlives that, " +
		"so ID tokens set to 2h, orders access tokens set to 3h (standard flow) and billing access tokens set to 50m (standard flow) last 47m at most. " +
		"Refresh tokens rotate on every use and end with the session, 47m after login at the latest (their 360h inactivity and 720h absolute lifetimes never apply)."
	if got := web.Summary(); got != wantSummary {
		t.Errorf("summary =\n%q\nwant\n%q", got, wantSummary)
	}
	adv := map[string]string{}
	for _, a := range web.Advise() {
		adv[a.Reason] = a.Message
	}
	msg, ok := adv[AdviceSessionCapsLifetimes]
	if !ok {
		t.Fatalf("no %s advisory: %+v", AdviceSessionCapsLifetimes, web.Advise())
	}
	for _, part := range []string{"Sessions end 47m after login (Tenant acme/spec.session.absoluteTimeout)",
		"ID tokens set to 2h", "orders access tokens set to 3h (standard flow)", "refresh tokens set to 720h", "last at most 47m"} {
		if !strings.Contains(msg, part) {
			t.Errorf("advisory %q lacks %q", msg, part)
		}
	}
	// Access tokens reaching 47m outlive the 30m idle window: still said.
	if _, ok := adv[AdviceAccessTokenOutlivesIdleSession]; !ok {
		t.Errorf("no %s advisory: %+v", AdviceAccessTokenOutlivesIdleSession, web.Advise())
	}

	offline := forApplication(ten, app(v1alpha1.Native, func(s *v1alpha1.ApplicationSpec) {
		s.RefreshToken = &v1alpha1.RefreshTokenSpec{AllowOfflineAccess: true}
	}), reachAPIs(ten)[:1])
	var offlineMsg string
	for _, a := range offline.Advise() {
		if a.Reason == AdviceSessionCapsLifetimes {
			t.Errorf("offline application: nothing is cut, yet %q", a.Message)
		}
		if a.Reason == AdviceOfflineAccessOutlivesSession {
			offlineMsg = a.Message
		}
	}
	for _, part := range []string{"ID tokens set to 10h", "orders access tokens set to 3h (standard flow)", "live their full lifetimes", "47m after login at most"} {
		if !strings.Contains(offlineMsg, part) {
			t.Errorf("offline advisory %q lacks %q", offlineMsg, part)
		}
	}
	if s := offline.Summary(); !strings.Contains(s, "ID tokens last 10h.") || !strings.Contains(s, "orders 3h (standard flow)") {
		t.Errorf("offline summary should give full lifetimes: %q", s)
	}

	// The API keeps its lifetimes (machine-to-machine clients get them) and
	// says what happens to users' tokens.
	orders := reachAPIs(ten)[0]
	if orders.Status().TokenLifetime.Seconds != 3*3600 {
		t.Errorf("API status = %+v, want its own 3h", orders.Status())
	}
	if !strings.HasSuffix(orders.Summary(), "Those issued on behalf of a user end with the user's session, 47m after login at most.") {
		t.Errorf("API summary = %q", orders.Summary())
	}
	var apiAdv string
	for _, a := range orders.Advise() {
		if a.Reason == AdviceUserTokensEndWithSession {
			apiAdv = a.Message
		}
	}
	if !strings.Contains(apiAdv, "user tokens for orders live at most 47m, not the 3h here") {
		t.Errorf("API advisory = %q", apiAdv)
	}
	// Under the default 168h sessions, a 24h API says nothing of the kind.
	def := forTenant(tenant(nil))
	if a := forAPI(def, api("orders", nil)); len(a.Advise()) != 0 || strings.Contains(a.Summary(), "session") {
		t.Errorf("default API: advisories %+v, summary %q", a.Advise(), a.Summary())
	}
}
