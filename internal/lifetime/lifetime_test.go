package lifetime

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func h(n float64) time.Duration { return time.Duration(n * float64(time.Hour)) }

func tenant(mutate func(*v1alpha1.TenantSpec)) *v1alpha1.Tenant {
	t := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.test"}}
	if mutate != nil {
		mutate(&t.Spec)
	}
	return t
}

func api(name string, mutate func(*v1alpha1.APISpec)) *v1alpha1.API {
	a := &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: v1alpha1.APISpec{Audience: "https://" + name + ".acme.test"}}
	if mutate != nil {
		mutate(&a.Spec)
	}
	return a
}

func app(typ v1alpha1.ApplicationType, mutate func(*v1alpha1.ApplicationSpec)) *v1alpha1.Application {
	a := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "storefront", Namespace: "shop"},
		Spec: v1alpha1.ApplicationSpec{Type: typ, APIs: []v1alpha1.APIAccess{{Name: "orders"}}}}
	if mutate != nil {
		mutate(&a.Spec)
	}
	return a
}

func TestCanonical(t *testing.T) {
	for in, want := range map[time.Duration]string{
		h(10):                                 "10h",
		h(1.5):                                "1h30m",
		90 * time.Second:                      "1m30s",
		time.Minute:                           "1m",
		0:                                     "0s",
		h(1) + time.Second:                    "1h0m1s",
		720 * time.Hour:                       "720h",
		1500 * time.Millisecond:               "1.5s",
		h(2) + 30*time.Minute + 0*time.Second: "2h30m",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestForTenantSession(t *testing.T) {
	cases := []struct {
		name                  string
		session               *v1alpha1.SessionSpec
		wantIdle, wantAbs     time.Duration
		wantIdleBy, wantAbsBy string
	}{
		{"defaults", nil, h(72), h(168),
			"Tenant acme/spec.session.inactivityTimeout (default)", "Tenant acme/spec.session.absoluteTimeout (default)"},
		{"explicit", &v1alpha1.SessionSpec{InactivityTimeout: dur("30m"), AbsoluteTimeout: dur("12h")}, h(0.5), h(12),
			"Tenant acme/spec.session.inactivityTimeout", "Tenant acme/spec.session.absoluteTimeout"},
		{"default idle lowered to a shorter absolute", &v1alpha1.SessionSpec{AbsoluteTimeout: dur("24h")}, h(24), h(24),
			"Tenant acme/spec.session.absoluteTimeout", "Tenant acme/spec.session.absoluteTimeout"},
		{"idle equal to absolute stays explicit", &v1alpha1.SessionSpec{InactivityTimeout: dur("8h"), AbsoluteTimeout: dur("8h")}, h(8), h(8),
			"Tenant acme/spec.session.inactivityTimeout", "Tenant acme/spec.session.absoluteTimeout"},
		{"minimum", &v1alpha1.SessionSpec{InactivityTimeout: dur("1m"), AbsoluteTimeout: dur("1m")}, time.Minute, time.Minute,
			"Tenant acme/spec.session.inactivityTimeout", "Tenant acme/spec.session.absoluteTimeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := forTenant(tenant(func(s *v1alpha1.TenantSpec) { s.Session = c.session })).Session
			if got.Inactivity.Duration != c.wantIdle || got.Inactivity.BoundBy != c.wantIdleBy {
				t.Errorf("inactivity = %+v, want %v by %q", got.Inactivity, c.wantIdle, c.wantIdleBy)
			}
			if got.Absolute.Duration != c.wantAbs || got.Absolute.BoundBy != c.wantAbsBy {
				t.Errorf("absolute = %+v, want %v by %q", got.Absolute, c.wantAbs, c.wantAbsBy)
			}
		})
	}
}

func TestForTenantDefaults(t *testing.T) {
	got := forTenant(tenant(nil))
	if got.SigningAlgorithm != v1alpha1.RS256 || got.PolicyMode != v1alpha1.PolicyClamp || got.Replicas != 1 ||
		got.KeyRotationPeriod.Duration != h(2160) || got.StateType != v1alpha1.StateKubernetes {
		t.Errorf("defaults = %+v", got)
	}
	if st := got.Status(); st.StateType != v1alpha1.StateKubernetes {
		t.Errorf("status shows state type %q by default, want Kubernetes", st.StateType)
	}
	// A state block without a type still means the default store.
	if got := forTenant(tenant(func(s *v1alpha1.TenantSpec) { s.State = &v1alpha1.StateSpec{} })); got.StateType != v1alpha1.StateKubernetes {
		t.Errorf("empty spec.state: state type %q, want Kubernetes", got.StateType)
	}
	got = forTenant(tenant(func(s *v1alpha1.TenantSpec) {
		s.SigningAlgorithm = v1alpha1.ES256
		s.Replicas = new(int32(3))
		s.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyReject}
		s.State = &v1alpha1.StateSpec{Type: v1alpha1.StateMemory}
	}))
	if got.SigningAlgorithm != v1alpha1.ES256 || got.PolicyMode != v1alpha1.PolicyReject || got.Replicas != 3 || got.StateType != v1alpha1.StateMemory {
		t.Errorf("explicit = %+v", got)
	}
	st := got.Status()
	if st.Session.AbsoluteTimeout.Seconds != 168*3600 || st.Session.AbsoluteTimeout.Duration != "168h" {
		t.Errorf("status session = %+v", st.Session)
	}
	if st.StateType != v1alpha1.StateMemory {
		t.Errorf("status state type = %q, want Memory", st.StateType)
	}
}

func TestForAPI(t *testing.T) {
	policy := func(mode v1alpha1.PolicyMode, access, browser string) func(*v1alpha1.TenantSpec) {
		return func(s *v1alpha1.TenantSpec) {
			s.Policy = &v1alpha1.LifetimePolicy{Mode: mode}
			if access != "" {
				s.Policy.MaxAccessTokenLifetime = dur(access)
			}
			if browser != "" {
				s.Policy.MaxBrowserAccessTokenLifetime = dur(browser)
			}
		}
	}
	cases := []struct {
		name                     string
		tenant                   func(*v1alpha1.TenantSpec)
		api                      func(*v1alpha1.APISpec)
		wantStd, wantBrowser     time.Duration
		wantStdBy, wantBrowserBy string
		wantClamps               int
		wantViolations           []string
	}{
		{name: "defaults", wantStd: h(24), wantBrowser: h(2),
			wantStdBy: "API orders/spec.tokenLifetime (default)", wantBrowserBy: "API orders/spec.tokenLifetimeForBrowserFlows (default)"},
		{name: "explicit both", api: func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("1h"); s.TokenLifetimeForBrowserFlows = dur("5m") },
			wantStd: h(1), wantBrowser: 5 * time.Minute,
			wantStdBy: "API orders/spec.tokenLifetime", wantBrowserBy: "API orders/spec.tokenLifetimeForBrowserFlows"},
		{name: "default browser lowered to a shorter standard", api: func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("30m") },
			wantStd: h(0.5), wantBrowser: h(0.5),
			wantStdBy: "API orders/spec.tokenLifetime", wantBrowserBy: "API orders/spec.tokenLifetime"},
		{name: "clamp explicit standard", tenant: policy(v1alpha1.PolicyClamp, "8h", ""),
			api:     func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("48h") },
			wantStd: h(8), wantBrowser: h(2), wantClamps: 1,
			wantStdBy: "Tenant acme/spec.policy.maxAccessTokenLifetime", wantBrowserBy: "API orders/spec.tokenLifetimeForBrowserFlows (default)"},
		{name: "default standard lowered by ceiling without a clamp record", tenant: policy(v1alpha1.PolicyReject, "8h", ""),
			wantStd: h(8), wantBrowser: h(2),
			wantStdBy: "Tenant acme/spec.policy.maxAccessTokenLifetime", wantBrowserBy: "API orders/spec.tokenLifetimeForBrowserFlows (default)"},
		{name: "value equal to ceiling is not clamped", tenant: policy(v1alpha1.PolicyReject, "8h", ""),
			api:     func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("8h") },
			wantStd: h(8), wantBrowser: h(2),
			wantStdBy: "API orders/spec.tokenLifetime", wantBrowserBy: "API orders/spec.tokenLifetimeForBrowserFlows (default)"},
		{name: "reject explicit standard", tenant: policy(v1alpha1.PolicyReject, "8h", ""),
			api:     func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("9h") },
			wantStd: h(8), wantBrowser: h(2),
			wantStdBy: "Tenant acme/spec.policy.maxAccessTokenLifetime", wantBrowserBy: "API orders/spec.tokenLifetimeForBrowserFlows (default)",
			wantViolations: []string{"API orders/spec.tokenLifetime 9h exceeds Tenant acme/spec.policy.maxAccessTokenLifetime 8h (policy mode Reject)"}},
		{name: "browser ceiling clamps explicit browser", tenant: policy(v1alpha1.PolicyClamp, "", "15m"),
			api:     func(s *v1alpha1.APISpec) { s.TokenLifetimeForBrowserFlows = dur("1h") },
			wantStd: h(24), wantBrowser: 15 * time.Minute, wantClamps: 1,
			wantStdBy: "API orders/spec.tokenLifetime (default)", wantBrowserBy: "Tenant acme/spec.policy.maxBrowserAccessTokenLifetime"},
		{name: "access ceiling below browser ceiling binds browser", tenant: policy(v1alpha1.PolicyClamp, "30m", "1h"),
			wantStd: h(0.5), wantBrowser: h(0.5),
			wantStdBy: "Tenant acme/spec.policy.maxAccessTokenLifetime", wantBrowserBy: "Tenant acme/spec.policy.maxAccessTokenLifetime"},
		{name: "reject both", tenant: policy(v1alpha1.PolicyReject, "1h", "10m"),
			api:     func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("2h"); s.TokenLifetimeForBrowserFlows = dur("20m") },
			wantStd: h(1), wantBrowser: 10 * time.Minute,
			wantStdBy: "Tenant acme/spec.policy.maxAccessTokenLifetime", wantBrowserBy: "Tenant acme/spec.policy.maxBrowserAccessTokenLifetime",
			wantViolations: []string{
				"API orders/spec.tokenLifetime 2h exceeds Tenant acme/spec.policy.maxAccessTokenLifetime 1h (policy mode Reject)",
				"API orders/spec.tokenLifetimeForBrowserFlows 20m exceeds Tenant acme/spec.policy.maxBrowserAccessTokenLifetime 10m (policy mode Reject)",
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := forAPI(forTenant(tenant(c.tenant)), api("orders", c.api))
			if got.Standard.Duration != c.wantStd || got.Standard.BoundBy != c.wantStdBy {
				t.Errorf("standard = %+v, want %v by %q", got.Standard, c.wantStd, c.wantStdBy)
			}
			if got.Browser.Duration != c.wantBrowser || got.Browser.BoundBy != c.wantBrowserBy {
				t.Errorf("browser = %+v, want %v by %q", got.Browser, c.wantBrowser, c.wantBrowserBy)
			}
			if len(got.Enforcement.Clamps) != c.wantClamps {
				t.Errorf("clamps = %v, want %d", got.Enforcement.Clamps, c.wantClamps)
			}
			var msgs []string
			for _, v := range got.Enforcement.Violations {
				msgs = append(msgs, v.Message())
			}
			if strings.Join(msgs, "\n") != strings.Join(c.wantViolations, "\n") {
				t.Errorf("violations = %q, want %q", msgs, c.wantViolations)
			}
			if got.Enforcement.Rejected() != (len(c.wantViolations) > 0) {
				t.Errorf("Rejected() = %v", got.Enforcement.Rejected())
			}
		})
	}
}

func TestForAPISigningAndAdvice(t *testing.T) {
	es := forTenant(tenant(func(s *v1alpha1.TenantSpec) { s.SigningAlgorithm = v1alpha1.ES256 }))
	if got := forAPI(es, api("orders", nil)).SigningAlgorithm; got != v1alpha1.ES256 {
		t.Errorf("API inherits tenant algorithm: got %s", got)
	}
	if got := forAPI(es, api("orders", func(s *v1alpha1.APISpec) { s.SigningAlgorithm = v1alpha1.RS256 })).SigningAlgorithm; got != v1alpha1.RS256 {
		t.Errorf("API overrides tenant algorithm: got %s", got)
	}
	same := forAPI(es, api("orders", func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("1h"); s.TokenLifetimeForBrowserFlows = dur("1h") }))
	if len(same.Advise()) != 1 || same.Advise()[0].Reason != "BrowserLifetimeNotShorter" {
		t.Errorf("advisories = %+v", same.Advise())
	}
	if adv := forAPI(es, api("orders", nil)).Advise(); len(adv) != 0 {
		t.Errorf("defaults need no advisory, got %+v", adv)
	}
}

func TestForApplicationFlows(t *testing.T) {
	ten := forTenant(tenant(nil))
	orders := forAPI(ten, api("orders", func(s *v1alpha1.APISpec) { s.TokenLifetime = dur("1h"); s.TokenLifetimeForBrowserFlows = dur("10m") }))
	type entry struct {
		flow     v1alpha1.AccessFlow
		lifetime time.Duration
	}
	cases := []struct {
		name  string
		app   *v1alpha1.Application
		want  []entry
		rules []string
	}{
		{"SinglePage gets browser lifetime", app(v1alpha1.SinglePage, nil),
			[]entry{{v1alpha1.FlowBrowser, 10 * time.Minute}}, []string{"SinglePage application (code runs in the browser)"}},
		{"RegularWeb gets standard", app(v1alpha1.RegularWeb, nil),
			[]entry{{v1alpha1.FlowStandard, h(1)}}, []string{"token endpoint grant (RegularWeb application)"}},
		{"Native gets standard", app(v1alpha1.Native, nil),
			[]entry{{v1alpha1.FlowStandard, h(1)}}, []string{"token endpoint grant (Native application)"}},
		{"MachineToMachine gets standard", app(v1alpha1.MachineToMachine, nil),
			[]entry{{v1alpha1.FlowStandard, h(1)}}, []string{"client_credentials grant (MachineToMachine)"}},
		{"RegularWeb with hybrid gets both", app(v1alpha1.RegularWeb, func(s *v1alpha1.ApplicationSpec) {
			s.ResponseTypes = []v1alpha1.ResponseType{"code", "code id_token token"}
		}), []entry{{v1alpha1.FlowStandard, h(1)}, {v1alpha1.FlowBrowser, 10 * time.Minute}},
			[]string{"token endpoint grant (RegularWeb application)", "response_type containing token (front channel)"}},
		{"code id_token is not front-channel access", app(v1alpha1.RegularWeb, func(s *v1alpha1.ApplicationSpec) {
			s.ResponseTypes = []v1alpha1.ResponseType{"code id_token"}
		}), []entry{{v1alpha1.FlowStandard, h(1)}}, []string{"token endpoint grant (RegularWeb application)"}},
		{"SinglePage with implicit stays browser only", app(v1alpha1.SinglePage, func(s *v1alpha1.ApplicationSpec) {
			s.ResponseTypes = []v1alpha1.ResponseType{"id_token token"}
		}), []entry{{v1alpha1.FlowBrowser, 10 * time.Minute}}, []string{"SinglePage application (code runs in the browser)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := forApplication(ten, c.app, []API{orders})
			if len(got.AccessTokens) != len(c.want) {
				t.Fatalf("access tokens = %+v, want %d", got.AccessTokens, len(c.want))
			}
			for i, w := range c.want {
				at := got.AccessTokens[i]
				if at.Flow != w.flow || at.Lifetime.Duration != w.lifetime || at.FlowRule != c.rules[i] {
					t.Errorf("entry %d = %s %v %q, want %s %v %q", i, at.Flow, at.Lifetime.Duration, at.FlowRule, w.flow, w.lifetime, c.rules[i])
				}
				if at.API.Audience != "https://orders.acme.test" || at.API.Ref != "shop/orders" {
					t.Errorf("entry %d API = %+v", i, at.API)
				}
				if l, ok := got.Lookup("shop/orders", w.flow); !ok || l.Lifetime != at.Lifetime {
					t.Errorf("Lookup(%s) = %+v, %v", w.flow, l, ok)
				}
			}
		})
	}
}

func TestForApplicationMachineToMachine(t *testing.T) {
	ten := forTenant(tenant(nil))
	got := forApplication(ten, app(v1alpha1.MachineToMachine, nil), []API{forAPI(ten, api("orders", nil))})
	if got.IDToken != nil || got.Session != nil || got.Refresh != nil || len(got.Advise()) != 0 {
		t.Errorf("M2M has no user artefacts: %+v", got)
	}
	want := "Access tokens: orders 24h (standard flow). Machine-to-machine: no users, so no ID tokens, sessions or refresh tokens."
	if s := got.Summary(); s != want {
		t.Errorf("summary = %q\nwant      %q", s, want)
	}
	st := got.Status()
	if st.IDToken != nil || st.Session != nil || st.RefreshToken != nil || len(st.AccessTokens) != 1 || st.AccessTokens[0].Lifetime.Seconds != 86400 {
		t.Errorf("status = %+v", st)
	}
}

func TestForApplicationIDTokenAndRefresh(t *testing.T) {
	cases := []struct {
		name                                string
		tenant                              func(*v1alpha1.TenantSpec)
		app                                 func(*v1alpha1.ApplicationSpec)
		wantID                              time.Duration
		wantIDBy                            string
		wantRefreshIdle, wantRefreshAbs     time.Duration
		wantRefreshIdleBy, wantRefreshAbsBy string
		wantClamps, wantViolations          int
	}{
		{name: "defaults", wantID: h(10), wantIDBy: "Application storefront/spec.idTokenLifetime (default)",
			wantRefreshIdle: h(360), wantRefreshAbs: h(720),
			wantRefreshIdleBy: "Application storefront/spec.refreshToken.inactivityLifetime (default)",
			wantRefreshAbsBy:  "Application storefront/spec.refreshToken.absoluteLifetime (default)"},
		{name: "explicit", app: func(s *v1alpha1.ApplicationSpec) {
			s.IDTokenLifetime = dur("1h")
			s.RefreshToken = &v1alpha1.RefreshTokenSpec{InactivityLifetime: dur("24h"), AbsoluteLifetime: dur("48h")}
		}, wantID: h(1), wantIDBy: "Application storefront/spec.idTokenLifetime",
			wantRefreshIdle: h(24), wantRefreshAbs: h(48),
			wantRefreshIdleBy: "Application storefront/spec.refreshToken.inactivityLifetime",
			wantRefreshAbsBy:  "Application storefront/spec.refreshToken.absoluteLifetime"},
		{name: "default refresh idle lowered under a short absolute", app: func(s *v1alpha1.ApplicationSpec) {
			s.RefreshToken = &v1alpha1.RefreshTokenSpec{AbsoluteLifetime: dur("24h")}
		}, wantID: h(10), wantIDBy: "Application storefront/spec.idTokenLifetime (default)",
			wantRefreshIdle: h(24), wantRefreshAbs: h(24),
			wantRefreshIdleBy: "Application storefront/spec.refreshToken.absoluteLifetime",
			wantRefreshAbsBy:  "Application storefront/spec.refreshToken.absoluteLifetime"},
		{name: "clamp", tenant: func(s *v1alpha1.TenantSpec) {
			s.Policy = &v1alpha1.LifetimePolicy{MaxIDTokenLifetime: dur("1h"), MaxRefreshTokenLifetime: dur("168h")}
		}, app: func(s *v1alpha1.ApplicationSpec) {
			s.IDTokenLifetime = dur("2h")
			s.RefreshToken = &v1alpha1.RefreshTokenSpec{AbsoluteLifetime: dur("240h")}
		}, wantID: h(1), wantIDBy: "Tenant acme/spec.policy.maxIDTokenLifetime",
			wantRefreshIdle: h(168), wantRefreshAbs: h(168),
			wantRefreshIdleBy: "Tenant acme/spec.policy.maxRefreshTokenLifetime",
			wantRefreshAbsBy:  "Tenant acme/spec.policy.maxRefreshTokenLifetime",
			wantClamps:        2},
		{name: "reject", tenant: func(s *v1alpha1.TenantSpec) {
			s.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyReject, MaxIDTokenLifetime: dur("1h")}
		}, app: func(s *v1alpha1.ApplicationSpec) { s.IDTokenLifetime = dur("61m") },
			wantID: h(1), wantIDBy: "Tenant acme/spec.policy.maxIDTokenLifetime",
			wantRefreshIdle: h(360), wantRefreshAbs: h(720),
			wantRefreshIdleBy: "Application storefront/spec.refreshToken.inactivityLifetime (default)",
			wantRefreshAbsBy:  "Application storefront/spec.refreshToken.absoluteLifetime (default)",
			wantViolations:    1},
		{name: "default id token lowered by ceiling even in Reject mode", tenant: func(s *v1alpha1.TenantSpec) {
			s.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyReject, MaxIDTokenLifetime: dur("1h")}
		}, wantID: h(1), wantIDBy: "Tenant acme/spec.policy.maxIDTokenLifetime",
			wantRefreshIdle: h(360), wantRefreshAbs: h(720),
			wantRefreshIdleBy: "Application storefront/spec.refreshToken.inactivityLifetime (default)",
			wantRefreshAbsBy:  "Application storefront/spec.refreshToken.absoluteLifetime (default)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ten := forTenant(tenant(c.tenant))
			got := forApplication(ten, app(v1alpha1.RegularWeb, c.app), []API{forAPI(ten, api("orders", nil))})
			if got.IDToken.Duration != c.wantID || got.IDToken.BoundBy != c.wantIDBy {
				t.Errorf("id token = %+v, want %v by %q", got.IDToken, c.wantID, c.wantIDBy)
			}
			r := got.Refresh
			if r.Inactivity.Duration != c.wantRefreshIdle || r.Inactivity.BoundBy != c.wantRefreshIdleBy {
				t.Errorf("refresh idle = %+v, want %v by %q", r.Inactivity, c.wantRefreshIdle, c.wantRefreshIdleBy)
			}
			if r.Absolute.Duration != c.wantRefreshAbs || r.Absolute.BoundBy != c.wantRefreshAbsBy {
				t.Errorf("refresh absolute = %+v, want %v by %q", r.Absolute, c.wantRefreshAbs, c.wantRefreshAbsBy)
			}
			if len(got.Enforcement.Clamps) != c.wantClamps || len(got.Enforcement.Violations) != c.wantViolations {
				t.Errorf("clamps %v violations %v, want %d and %d", got.Enforcement.Clamps, got.Enforcement.Violations, c.wantClamps, c.wantViolations)
			}
			if r.Rotation != v1alpha1.RotationEnabled || r.ReuseInterval.Duration != DefaultRefreshReuseInterval {
				t.Errorf("rotation defaults = %+v", r)
			}
		})
	}
}

func TestClampMessage(t *testing.T) {
	ten := forTenant(tenant(func(s *v1alpha1.TenantSpec) {
		s.Policy = &v1alpha1.LifetimePolicy{MaxIDTokenLifetime: dur("1h")}
	}))
	got := forApplication(ten, app(v1alpha1.SinglePage, func(s *v1alpha1.ApplicationSpec) { s.IDTokenLifetime = dur("90m") }), nil)
	want := "Application storefront/spec.idTokenLifetime 1h30m lowered to 1h by Tenant acme/spec.policy.maxIDTokenLifetime"
	if len(got.Enforcement.Clamps) != 1 || got.Enforcement.Clamps[0].Message() != want {
		t.Errorf("clamps = %+v, want %q", got.Enforcement.Clamps, want)
	}
}

func TestAdvisories(t *testing.T) {
	reasons := func(a Application) []string {
		var out []string
		for _, adv := range a.Advise() {
			out = append(out, adv.Reason)
		}
		return out
	}
	cases := []struct {
		name   string
		tenant func(*v1alpha1.TenantSpec)
		typ    v1alpha1.ApplicationType
		app    func(*v1alpha1.ApplicationSpec)
		want   []string
	}{
		{name: "defaults are quiet", typ: v1alpha1.SinglePage},
		{name: "access token outlives idle session", typ: v1alpha1.RegularWeb,
			tenant: func(s *v1alpha1.TenantSpec) { s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("1h")} },
			want:   []string{AdviceAccessTokenOutlivesIdleSession}},
		{name: "access token equal to idle session is fine", typ: v1alpha1.RegularWeb,
			tenant: func(s *v1alpha1.TenantSpec) { s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("24h")} }},
		{name: "id token outlives absolute session", typ: v1alpha1.RegularWeb,
			tenant: func(s *v1alpha1.TenantSpec) {
				s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("1h"), AbsoluteTimeout: dur("8h")}
			},
			app: func(s *v1alpha1.ApplicationSpec) {
				s.IDTokenLifetime = dur("9h")
				s.APIs = nil
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{AbsoluteLifetime: dur("8h")}
			},
			want: []string{AdviceSessionCapsLifetimes}},
		{name: "access token cut by the session is judged by what it reaches", typ: v1alpha1.RegularWeb,
			tenant: func(s *v1alpha1.TenantSpec) {
				s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("2h"), AbsoluteTimeout: dur("2h")}
			},
			app: func(s *v1alpha1.ApplicationSpec) {
				s.IDTokenLifetime = dur("1h")
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{AbsoluteLifetime: dur("2h")}
			},
			// orders' default 24h reaches 2h: not beyond the 2h idle window.
			want: []string{AdviceSessionCapsLifetimes}},
		{name: "offline access", typ: v1alpha1.Native,
			app: func(s *v1alpha1.ApplicationSpec) {
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{AllowOfflineAccess: true}
			},
			want: []string{AdviceOfflineAccessOutlivesSession}},
		{name: "rotation disabled on a public client", typ: v1alpha1.SinglePage,
			app: func(s *v1alpha1.ApplicationSpec) {
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{Rotation: v1alpha1.RotationDisabled}
			},
			want: []string{AdviceRotationDisabledPublicClient}},
		{name: "rotation disabled on a confidential client is its choice", typ: v1alpha1.RegularWeb,
			app: func(s *v1alpha1.ApplicationSpec) {
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{Rotation: v1alpha1.RotationDisabled}
			}},
		{name: "front-channel tokens", typ: v1alpha1.RegularWeb,
			app:  func(s *v1alpha1.ApplicationSpec) { s.ResponseTypes = []v1alpha1.ResponseType{"code token"} },
			want: []string{AdviceFrontChannelTokens}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ten := forTenant(tenant(c.tenant))
			a := app(c.typ, c.app)
			var apis []API
			for _, ref := range a.Spec.APIs {
				apis = append(apis, forAPI(ten, api(ref.Name, nil)))
			}
			got := forApplication(ten, a, apis)
			if strings.Join(reasons(got), ",") != strings.Join(c.want, ",") {
				t.Errorf("advisories = %+v, want %v", got.Advise(), c.want)
			}
			for _, adv := range got.Advise() {
				if !strings.HasSuffix(adv.Message, ".") || len(adv.Message) < 40 {
					t.Errorf("advisory message should be a sentence: %q", adv.Message)
				}
			}
		})
	}
}

func TestSummary(t *testing.T) {
	ten := forTenant(tenant(nil))
	apis := []API{forAPI(ten, api("orders", nil)), forAPI(ten, api("billing", nil))}
	spa := app(v1alpha1.SinglePage, func(s *v1alpha1.ApplicationSpec) {
		s.APIs = []v1alpha1.APIAccess{{Name: "orders"}, {Name: "billing"}}
	})
	got := forApplication(ten, spa, apis).Summary()
	want := "ID tokens last 10h. Access tokens: orders 2h (browser flow), billing 2h (browser flow). " +
		"Users log in again after 72h without activity, and after 168h at the latest. " +
		"Refresh tokens rotate on every use and end with the session, 168h after login at the latest (their 360h inactivity and 720h absolute lifetimes never apply)."
	if got != want {
		t.Errorf("summary =\n%q\nwant\n%q", got, want)
	}
	none := forApplication(ten, app(v1alpha1.RegularWeb, func(s *v1alpha1.ApplicationSpec) {
		s.APIs = nil
		s.RefreshToken = &v1alpha1.RefreshTokenSpec{Rotation: v1alpha1.RotationDisabled, AllowOfflineAccess: true}
	}), nil).Summary()
	for _, part := range []string{"Access tokens: no APIs granted.", "do not rotate", "unless offline_access was requested"} {
		if !strings.Contains(none, part) {
			t.Errorf("summary %q lacks %q", none, part)
		}
	}
}

func TestSessionDeadlines(t *testing.T) {
	s := forTenant(tenant(func(s *v1alpha1.TenantSpec) {
		s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("1h"), AbsoluteTimeout: dur("8h")}
	})).Session
	login := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name         string
		lastActivity time.Time
		now          time.Time
		want         SessionEnd
		wantIdle     time.Time
	}{
		{"fresh", login, login.Add(time.Minute), SessionActive, login.Add(time.Hour)},
		{"just before idle deadline", login, login.Add(time.Hour - time.Nanosecond), SessionActive, login.Add(time.Hour)},
		{"at idle deadline", login, login.Add(time.Hour), SessionIdle, login.Add(time.Hour)},
		{"activity slides the idle deadline", login.Add(3 * time.Hour), login.Add(3*time.Hour + 59*time.Minute), SessionActive, login.Add(4 * time.Hour)},
		{"idle deadline never passes absolute", login.Add(7*time.Hour + 30*time.Minute), login.Add(7*time.Hour + 45*time.Minute), SessionActive, login.Add(8 * time.Hour)},
		{"absolute ends an active session", login.Add(7*time.Hour + 59*time.Minute), login.Add(8 * time.Hour), SessionExpired, login.Add(8 * time.Hour)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := s.DeadlinesOf(login, c.lastActivity)
			if got := d.EndAt(c.now); got != c.want {
				t.Errorf("EndAt = %q, want %q", got, c.want)
			}
			if !d.Idle.Equal(c.wantIdle) || !d.Absolute.Equal(login.Add(8*time.Hour)) {
				t.Errorf("deadlines = %+v, want idle %v", d, c.wantIdle)
			}
		})
	}
	// A shortened timeout applies to an existing session at the next check.
	shorter := forTenant(tenant(func(s *v1alpha1.TenantSpec) {
		s.Session = &v1alpha1.SessionSpec{InactivityTimeout: dur("10m"), AbsoluteTimeout: dur("8h")}
	})).Session
	if got := shorter.DeadlinesOf(login, login).EndAt(login.Add(20 * time.Minute)); got != SessionIdle {
		t.Errorf("shortened inactivity: EndAt = %q, want Inactivity", got)
	}
}

func TestTokenExpiry(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	deadline := now.Add(10 * time.Minute)
	if got := TokenExpiry(now, time.Hour, deadline); !got.Equal(deadline) {
		t.Errorf("token 10m before absolute deadline expires at %v, want %v", got, deadline)
	}
	if got := TokenExpiry(now, 5*time.Minute, deadline); !got.Equal(now.Add(5 * time.Minute)) {
		t.Errorf("short token keeps its lifetime: %v", got)
	}
	if got := TokenExpiry(now, time.Hour, time.Time{}); !got.Equal(now.Add(time.Hour)) {
		t.Errorf("no session: %v", got)
	}
}

func TestResponseTypeDeliversToken(t *testing.T) {
	for rt, want := range map[string]bool{
		"code": false, "id_token": false, "code id_token": false,
		"id_token token": true, "code token": true, "code id_token token": true, "tokenx": false,
	} {
		if got := ResponseTypeDeliversToken(rt); got != want {
			t.Errorf("%q: %v, want %v", rt, got, want)
		}
	}
}

func TestUserInfoAccessToken(t *testing.T) {
	ten := forTenant(tenant(nil))
	got, ok := forApplication(ten, app(v1alpha1.SinglePage, func(s *v1alpha1.ApplicationSpec) { s.IDTokenLifetime = dur("45m") }), nil).UserInfoAccessToken()
	if !ok || got.Duration != 45*time.Minute || got.BoundBy != "Application storefront/spec.idTokenLifetime" {
		t.Errorf("userinfo token = %+v, %v", got, ok)
	}
	if _, ok := forApplication(ten, app(v1alpha1.MachineToMachine, nil), nil).UserInfoAccessToken(); ok {
		t.Error("MachineToMachine gets no userinfo token")
	}
}
