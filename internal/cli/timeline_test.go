package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func lt(d time.Duration, boundBy string) v1alpha1.EffectiveLifetime {
	return v1alpha1.EffectiveLifetime{Duration: short(d), Seconds: int64(d / time.Second), BoundBy: boundBy}
}

// storefront is the sample SinglePage Application as make dev reports it.
func storefront() *v1alpha1.Application {
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "storefront", Namespace: "shop"},
		Spec: v1alpha1.ApplicationSpec{Type: v1alpha1.SinglePage, TenantRef: v1alpha1.TenantReference{Name: "acme", Namespace: "identity"}}}
	id := lt(time.Hour, "Application storefront/spec.idTokenLifetime")
	app.Status.Effective = &v1alpha1.ApplicationEffective{
		IDToken: &id,
		AccessTokens: []v1alpha1.EffectiveAccessToken{
			{API: "shop/orders", Flow: v1alpha1.FlowBrowser, Lifetime: lt(15*time.Minute, "API orders/spec.tokenLifetimeForBrowserFlows")},
		},
		Session: &v1alpha1.EffectiveSession{InactivityTimeout: lt(12*time.Hour, "Tenant acme/spec.session.inactivityTimeout"),
			AbsoluteTimeout: lt(168*time.Hour, "Tenant acme/spec.session.absoluteTimeout")},
		RefreshToken: &v1alpha1.EffectiveRefreshToken{SessionBinding: "Session",
			InactivityLifetime: lt(168*time.Hour, "Tenant acme/spec.session.absoluteTimeout"),
			AbsoluteLifetime:   lt(168*time.Hour, "Tenant acme/spec.session.absoluteTimeout")},
	}
	return app
}

func TestTimelineEvents(t *testing.T) {
	got := map[string]string{}
	for _, e := range timelineEvents(storefront()) {
		got[e.label] = short(e.at) + " " + e.why
	}
	want := map[string]string{
		"ID token":           "1h Application storefront/spec.idTokenLifetime",
		"access shop/orders": "15m API orders/spec.tokenLifetimeForBrowserFlows",
		"refresh, if unused": "12h Tenant acme/spec.session.inactivityTimeout (it ends with the session)",
		"refresh, if used":   "7d Tenant acme/spec.session.absoluteTimeout",
		"session, if idle":   "12h Tenant acme/spec.session.inactivityTimeout",
		"session, at most":   "7d Tenant acme/spec.session.absoluteTimeout",
	}
	for label, w := range want {
		if got[label] != w {
			t.Errorf("%s: %q, want %q", label, got[label], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("events %v", got)
	}
}

func TestTimelineDrawsToScale(t *testing.T) {
	var out bytes.Buffer
	login := time.Date(2026, 12, 2, 13, 4, 0, 0, time.UTC)
	if err := timeline(&out, storefront(), login, 42); err != nil {
		t.Fatal(err)
	}
	bars := map[string]int{}
	for _, line := range strings.Split(out.String(), "\n") {
		for _, label := range []string{"ID token", "session, at most", "session, if idle"} {
			if strings.HasPrefix(line, label+" ") {
				bars[label] = strings.Count(line, "█") + strings.Count(line, "▒")
			}
		}
	}
	// 168h fills the 42 columns; 12h is 3 of them; 1h still shows.
	if bars["session, at most"] != 42 || bars["session, if idle"] != 3 || bars["ID token"] != 1 {
		t.Errorf("bars %v; output:\n%s", bars, out.String())
	}
	if !strings.Contains(out.String(), "7d      Dec 9 13:04  ← Tenant acme/spec.session.absoluteTimeout") {
		t.Errorf("no end time for the absolute deadline:\n%s", out.String())
	}
	if err := timeline(&out, &v1alpha1.Application{}, login, 42); err == nil || !strings.Contains(err.Error(), "no effective lifetimes in status yet") {
		t.Errorf("an Application without status: %v", err)
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0", 45 * time.Minute: "45m", 90 * time.Minute: "1h30m", 8 * time.Hour: "8h",
		720 * time.Hour: "30d", 15*time.Minute + 40*time.Second: "15m40s"} {
		if got := short(d); got != want {
			t.Errorf("short(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestExplainWithoutTenant: an Application whose Tenant cannot be read is
// still explained, saying so, with its Ready message.
func TestExplainWithoutTenant(t *testing.T) {
	app := storefront()
	app.Status.Effective = nil
	app.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "TenantNotFound", Message: "Tenant identity/acme does not exist."}}
	var out bytes.Buffer
	explain(&out, &view{app: app, tenantErr: errors.New(`tenants.idtenant.dev "acme" is forbidden`), missing: []string{"shop/orders: not found"}})
	for _, want := range []string{`Tenant identity/acme (cannot be read: tenants.idtenant.dev "acme" is forbidden)`, "NOT READY TenantNotFound: Tenant identity/acme does not exist.",
		"no effective lifetimes yet: TenantNotFound", "API shop/orders: not found"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
}

// TestExplainShowsWaysIn: the local directory and each connection, with
// the redirect URI to register for a working one and why a failing one
// fails.
func TestExplainShowsWaysIn(t *testing.T) {
	app := storefront()
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "identity"}, Spec: v1alpha1.TenantSpec{
		IssuerURL: "https://id.acme.example", UsersSecretRef: &v1alpha1.LocalSecretReference{Name: "users"},
		Connections: []v1alpha1.Connection{
			{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example"}},
			{Name: "partner", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://sso.partner.example"}},
			{Name: "new", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://new.example"}},
		}}, Status: v1alpha1.TenantStatus{Connections: []v1alpha1.ConnectionStatus{
		{Name: "corp", Ready: true, RedirectURI: "https://id.acme.example/login/callback"},
		{Name: "partner", Reason: v1alpha1.ReasonDiscoveryFailed, Message: "discovery answered HTTP 503, want 200"},
	}}}
	var out bytes.Buffer
	explain(&out, &view{app: app, tenant: tenant})
	for _, want := range []string{"local users from Secret users",
		"connection corp  https://login.corp.example  ready; register https://id.acme.example/login/callback there",
		"connection partner  https://sso.partner.example  NOT READY DiscoveryFailed: discovery answered HTTP 503, want 200",
		"connection new  https://new.example  not checked yet"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
}
