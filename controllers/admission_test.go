package controllers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func d(s string) *metav1.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		// Malformed values cannot be built through metav1.Duration; those
		// cases go through rawCreate.
		panic(err)
	}
	return &metav1.Duration{Duration: v}
}

// validTenant is a Tenant with an issuer URL of its own: two Tenants may
// not share one (IssuerURLConflict), and the tests share a control plane.
func validTenant(ns string) *v1alpha1.Tenant {
	return &v1alpha1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: ns},
		Spec:       v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example/" + ns},
	}
}

func validAPI(ns string) *v1alpha1.API {
	return &v1alpha1.API{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns},
		Spec: v1alpha1.APISpec{
			TenantRef: v1alpha1.TenantReference{Name: "acme"},
			Audience:  "https://orders.acme.example",
			Scopes:    []v1alpha1.APIScope{{Name: "orders:read"}},
		},
	}
}

func validApp(ns string, typ v1alpha1.ApplicationType) *v1alpha1.Application {
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "shopfront", Namespace: ns},
		Spec: v1alpha1.ApplicationSpec{
			TenantRef: v1alpha1.TenantReference{Name: "acme"},
			Type:      typ,
		},
	}
	if typ != v1alpha1.MachineToMachine {
		app.Spec.RedirectURIs = []v1alpha1.RedirectURI{"https://shop.acme.example/callback"}
	}
	return app
}

// TestAdmissionRejects applies invalid objects to the real API server and
// checks that each is refused with a message naming the field and the limit.
func TestAdmissionRejects(t *testing.T) {
	ns := newNamespace(t, nil)
	cases := []struct {
		name string
		obj  client.Object
		want []string // every substring must appear in the error
	}{
		{"id token lifetime above 30 days", func() client.Object {
			a := validApp(ns, v1alpha1.SinglePage)
			a.Spec.IDTokenLifetime = d("721h")
			return a
		}(), []string{"spec.idTokenLifetime", "between 1m and 720h"}},
		{"id token lifetime below a minute", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.IDTokenLifetime = d("59s")
			return a
		}(), []string{"spec.idTokenLifetime", "between 1m and 720h"}},
		{"token lifetime above 30 days", func() client.Object {
			a := validAPI(ns)
			a.Spec.TokenLifetime = d("1000h")
			return a
		}(), []string{"spec.tokenLifetime", "between 1m and 720h"}},
		{"browser lifetime above standard", func() client.Object {
			a := validAPI(ns)
			a.Spec.TokenLifetime = d("1h")
			a.Spec.TokenLifetimeForBrowserFlows = d("2h")
			return a
		}(), []string{"spec.tokenLifetimeForBrowserFlows must not exceed spec.tokenLifetime"}},
		{"browser lifetime above the default standard", func() client.Object {
			a := validAPI(ns)
			a.Spec.TokenLifetimeForBrowserFlows = d("25h")
			return a
		}(), []string{"spec.tokenLifetimeForBrowserFlows must not exceed spec.tokenLifetime (default 24h)"}},
		{"connection over plain http", func() client.Object {
			t := validTenant(ns)
			c := v1alpha1.Connection{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}
			c.OIDC.IssuerURL = "http://login.corp.example"
			t.Spec.Connections = []v1alpha1.Connection{c}
			return t
		}(), []string{"spec.connections[0].oidc.issuerURL", "must use https"}},
		{"connection issuer with user info", func() client.Object {
			t := validTenant(ns)
			c := v1alpha1.Connection{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}
			c.OIDC.IssuerURL = "https://user:pw@login.corp.example"
			t.Spec.Connections = []v1alpha1.Connection{c}
			return t
		}(), []string{"spec.connections[0].oidc.issuerURL", "should match"}},
		{"connection issuer with a query", func() client.Object {
			t := validTenant(ns)
			c := v1alpha1.Connection{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}
			c.OIDC.IssuerURL = "https://login.corp.example/?tenant=1"
			t.Spec.Connections = []v1alpha1.Connection{c}
			return t
		}(), []string{"spec.connections[0].oidc.issuerURL", "should match"}},
		{"connection scopes without openid", func() client.Object {
			t := validTenant(ns)
			c := v1alpha1.Connection{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}
			c.OIDC.Scopes = []string{"email"}
			t.Spec.Connections = []v1alpha1.Connection{c}
			return t
		}(), []string{"spec.connections[0].oidc.scopes", "must include openid"}},
		{"connection name with capitals", func() client.Object {
			t := validTenant(ns)
			c := v1alpha1.Connection{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}
			c.Name = "Corp"
			t.Spec.Connections = []v1alpha1.Connection{c}
			return t
		}(), []string{"spec.connections[0].name", "should match"}},
		{"connection without a client", func() client.Object {
			t := validTenant(ns)
			c := v1alpha1.Connection{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}
			c.OIDC.ClientID = ""
			t.Spec.Connections = []v1alpha1.Connection{c}
			return t
		}(), []string{"spec.connections[0].oidc.clientID"}},
		{"two connections with one name", func() client.Object {
			t := validTenant(ns)
			c := v1alpha1.Connection{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}
			t.Spec.Connections = []v1alpha1.Connection{c, c}
			return t
		}(), []string{"spec.connections[1]", "Duplicate value"}},
		{"inactivity above absolute", func() client.Object {
			t := validTenant(ns)
			t.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("48h"), AbsoluteTimeout: d("24h")}
			return t
		}(), []string{"spec.session.inactivityTimeout must not exceed spec.session.absoluteTimeout"}},
		{"inactivity above the default absolute", func() client.Object {
			t := validTenant(ns)
			t.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("200h")}
			return t
		}(), []string{"spec.session.inactivityTimeout must not exceed", "default 168h"}},
		{"inactivity above 100 days", func() client.Object {
			t := validTenant(ns)
			t.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("2401h"), AbsoluteTimeout: d("8760h")}
			return t
		}(), []string{"spec.session.inactivityTimeout", "between 1m and 2400h"}},
		{"absolute above a year", func() client.Object {
			t := validTenant(ns)
			t.Spec.Session = &v1alpha1.SessionSpec{AbsoluteTimeout: d("8761h")}
			return t
		}(), []string{"spec.session.absoluteTimeout", "between 1m and 8760h"}},
		{"http issuer on a public host", func() client.Object {
			t := validTenant(ns)
			t.Spec.IssuerURL = "http://id.acme.example"
			return t
		}(), []string{"spec.issuerURL must use https", "loopback"}},
		{"issuer with a query", func() client.Object {
			t := validTenant(ns)
			t.Spec.IssuerURL = "https://id.acme.example/?tenant=1"
			return t
		}(), []string{"spec.issuerURL must not contain a query or fragment"}},
		{"issuer that is not a URL", func() client.Object {
			t := validTenant(ns)
			t.Spec.IssuerURL = "id.acme.example"
			return t
		}(), []string{"spec.issuerURL must be an absolute http(s) URL"}},
		{"unknown signing algorithm", func() client.Object {
			t := validTenant(ns)
			t.Spec.SigningAlgorithm = "HS256"
			return t
		}(), []string{"spec.signingAlgorithm", `supported values: "RS256", "ES256"`}},
		{"unknown policy mode", func() client.Object {
			t := validTenant(ns)
			t.Spec.Policy = &v1alpha1.LifetimePolicy{Mode: "Warn"}
			return t
		}(), []string{"spec.policy.mode", `supported values: "Clamp", "Reject"`}},
		{"selector missing for from Selector", func() client.Object {
			t := validTenant(ns)
			t.Spec.AllowedNamespaces = &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSelector}
			return t
		}(), []string{"spec.allowedNamespaces.selector must be set when from is Selector"}},
		{"replicas zero", func() client.Object {
			t := validTenant(ns)
			t.Spec.Replicas = new(int32(0))
			return t
		}(), []string{"spec.replicas", "should be greater than or equal to 1"}},
		{"memory store with two replicas", func() client.Object {
			t := validTenant(ns)
			t.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StateMemory}
			t.Spec.Replicas = new(int32(2))
			return t
		}(), []string{"spec.state.type Memory allows spec.replicas of 1 only", "would keep its own sessions"}},
		{"unknown state store", func() client.Object {
			t := validTenant(ns)
			t.Spec.State = &v1alpha1.StateSpec{Type: "Postgres"}
			return t
		}(), []string{"spec.state.type", `supported values: "Kubernetes", "Memory", "PostgreSQL"`}},
		{"PostgreSQL store without a database", func() client.Object {
			t := validTenant(ns)
			t.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StatePostgreSQL}
			return t
		}(), []string{"spec.state.postgreSQL", "required with type PostgreSQL"}},
		{"a database for the Kubernetes store", func() client.Object {
			t := validTenant(ns)
			t.Spec.State = &v1alpha1.StateSpec{PostgreSQL: &v1alpha1.PostgreSQLState{SecretRef: v1alpha1.SecretKeyReference{Name: "db"}}}
			return t
		}(), []string{"spec.state.postgreSQL", "allowed only with it"}},
		{"PostgreSQL schema of PostgreSQL's own", func() client.Object {
			t := validTenant(ns)
			t.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StatePostgreSQL, PostgreSQL: &v1alpha1.PostgreSQLState{SecretRef: v1alpha1.SecretKeyReference{Name: "db"}, Schema: "pg_catalog"}}
			return t
		}(), []string{"spec.state.postgreSQL.schema", "reserved by PostgreSQL"}},
		{"PostgreSQL schema needing quotes", func() client.Object {
			t := validTenant(ns)
			t.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StatePostgreSQL, PostgreSQL: &v1alpha1.PostgreSQLState{SecretRef: v1alpha1.SecretKeyReference{Name: "db"}, Schema: "Team-A"}}
			return t
		}(), []string{"spec.state.postgreSQL.schema", "should match"}},
		{"more idle PostgreSQL connections than the pool holds", func() client.Object {
			t := validTenant(ns)
			t.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StatePostgreSQL, PostgreSQL: &v1alpha1.PostgreSQLState{SecretRef: v1alpha1.SecretKeyReference{Name: "db"}, MinConnections: new(int32(11))}}
			return t
		}(), []string{"spec.state.postgreSQL.minConnections", "must not exceed maxConnections (default 10)"}},
		{"key rotation period below a day", func() client.Object {
			t := validTenant(ns)
			t.Spec.KeyRotationPeriod = d("1h")
			return t
		}(), []string{"spec.keyRotationPeriod must be between 24h and 8760h"}},
		{"trusted proxy that is no address", func() client.Object {
			t := validTenant(ns)
			t.Spec.TrustedProxies = []string{"10.0.0.0/8", "ingress.example.com"}
			return t
		}(), []string{"spec.trustedProxies entries must be a CIDR such as 10.244.0.0/16 or an IP address"}},
		{"ceiling above 30 days", func() client.Object {
			t := validTenant(ns)
			t.Spec.Policy = &v1alpha1.LifetimePolicy{MaxAccessTokenLifetime: d("800h")}
			return t
		}(), []string{"spec.policy.maxAccessTokenLifetime must be between 1m and 720h"}},
		{"redirect URI with a fragment", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"https://shop.acme.example/callback#x"}
			return a
		}(), []string{"spec.redirectURIs[0]", "must not contain a fragment"}},
		{"relative redirect URI", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"/callback"}
			return a
		}(), []string{"spec.redirectURIs[0]", "must be an absolute URI"}},
		{"wildcard redirect URI", func() client.Object {
			a := validApp(ns, v1alpha1.SinglePage)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"https://*.acme.example/callback"}
			return a
		}(), []string{"spec.redirectURIs[0]", "wildcards"}},
		{"http redirect URI on a public host for a web app", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"http://shop.acme.example/callback"}
			return a
		}(), []string{"spec.redirectURIs of SinglePage and RegularWeb applications must use https"}},
		{"machine-to-machine with redirect URIs", func() client.Object {
			a := validApp(ns, v1alpha1.MachineToMachine)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"https://svc.acme.example/cb"}
			return a
		}(), []string{"spec.redirectURIs must not be set for type MachineToMachine"}},
		{"machine-to-machine with refresh tokens", func() client.Object {
			a := validApp(ns, v1alpha1.MachineToMachine)
			a.Spec.RefreshToken = &v1alpha1.RefreshTokenSpec{AllowOfflineAccess: true}
			return a
		}(), []string{"spec.refreshToken must not be set for type MachineToMachine"}},
		{"machine-to-machine with an ID token lifetime", func() client.Object {
			a := validApp(ns, v1alpha1.MachineToMachine)
			a.Spec.IDTokenLifetime = d("1h")
			return a
		}(), []string{"spec.idTokenLifetime must not be set for type MachineToMachine"}},
		{"web app without redirect URIs", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.RedirectURIs = nil
			return a
		}(), []string{"spec.redirectURIs must list at least one URI"}},
		{"single-page app with a client secret method", func() client.Object {
			a := validApp(ns, v1alpha1.SinglePage)
			a.Spec.TokenEndpointAuthMethod = v1alpha1.AuthMethodPost
			return a
		}(), []string{"spec.tokenEndpointAuthMethod must be none for SinglePage and Native"}},
		{"native app with a client secret method", func() client.Object {
			a := validApp(ns, v1alpha1.Native)
			a.Spec.TokenEndpointAuthMethod = v1alpha1.AuthMethodBasic
			return a
		}(), []string{"spec.tokenEndpointAuthMethod must be none for SinglePage and Native"}},
		{"confidential app without authentication", func() client.Object {
			a := validApp(ns, v1alpha1.MachineToMachine)
			a.Spec.TokenEndpointAuthMethod = v1alpha1.AuthMethodNone
			return a
		}(), []string{"spec.tokenEndpointAuthMethod must be client_secret_basic or client_secret_post"}},
		{"unknown application type", func() client.Object {
			return validApp(ns, "Desktop")
		}(), []string{"spec.type", `supported values: "SinglePage", "RegularWeb", "Native", "MachineToMachine"`}},
		{"unknown response type", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.ResponseTypes = []v1alpha1.ResponseType{"token code"}
			return a
		}(), []string{"spec.responseTypes[0]", "supported values"}},
		{"duplicate API scopes", func() client.Object {
			a := validAPI(ns)
			a.Spec.Scopes = []v1alpha1.APIScope{{Name: "orders:read"}, {Name: "orders:read"}}
			return a
		}(), []string{"spec.scopes[1]", "Duplicate value"}},
		{"duplicate application scopes", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read", "orders:read"}}}
			return a
		}(), []string{"spec.apis[0].scopes[1]", "Duplicate value"}},
		{"scope with a space", func() client.Object {
			a := validAPI(ns)
			a.Spec.Scopes = []v1alpha1.APIScope{{Name: "orders read"}}
			return a
		}(), []string{"spec.scopes[0].name", "should match"}},
		{"empty audience", func() client.Object {
			a := validAPI(ns)
			a.Spec.Audience = ""
			return a
		}(), []string{"spec.audience", "at least 1 chars long"}},
		{"refresh inactivity above absolute", func() client.Object {
			a := validApp(ns, v1alpha1.Native)
			a.Spec.RefreshToken = &v1alpha1.RefreshTokenSpec{InactivityLifetime: d("48h"), AbsoluteLifetime: d("24h")}
			return a
		}(), []string{"spec.refreshToken.inactivityLifetime must not exceed spec.refreshToken.absoluteLifetime"}},
		{"refresh reuse interval above 5m", func() client.Object {
			a := validApp(ns, v1alpha1.Native)
			a.Spec.RefreshToken = &v1alpha1.RefreshTokenSpec{ReuseInterval: d("10m")}
			return a
		}(), []string{"spec.refreshToken.reuseInterval must be between 0s and 5m"}},
		{"reuse interval without rotation", func() client.Object {
			a := validApp(ns, v1alpha1.Native)
			a.Spec.RefreshToken = &v1alpha1.RefreshTokenSpec{Rotation: v1alpha1.RotationDisabled, ReuseInterval: d("5s")}
			return a
		}(), []string{"spec.refreshToken.reuseInterval applies only when rotation is Enabled"}},
		{"javascript redirect URI on a native app", func() client.Object {
			a := validApp(ns, v1alpha1.Native)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"javascript:alert(1)"}
			return a
		}(), []string{"spec.redirectURIs[0]", "must not use the javascript, data, vbscript or file scheme"}},
		{"http redirect URI on a public host for a native app", func() client.Object {
			a := validApp(ns, v1alpha1.Native)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"http://evil.example.com/cb"}
			return a
		}(), []string{"spec.redirectURIs[0]", "http is allowed only for loopback hosts"}},
		{"https redirect URI without a host", func() client.Object {
			a := validApp(ns, v1alpha1.RegularWeb)
			a.Spec.RedirectURIs = []v1alpha1.RedirectURI{"https:///callback"}
			return a
		}(), []string{"spec.redirectURIs[0]", "must name a host"}},
		{"http post-logout URI on a public host", func() client.Object {
			a := validApp(ns, v1alpha1.SinglePage)
			a.Spec.PostLogoutRedirectURIs = []v1alpha1.RedirectURI{"http://evil.example.com/"}
			return a
		}(), []string{"spec.postLogoutRedirectURIs[0]", "http is allowed only for loopback hosts"}},
		{"issuer with user information", func() client.Object {
			t := validTenant(ns)
			t.Spec.IssuerURL = "https://user:pass@id.acme.example"
			return t
		}(), []string{"spec.issuerURL must not contain user information"}},
		{"audience with a tab", func() client.Object {
			a := validAPI(ns)
			a.Spec.Audience = "https://orders\t.acme.example"
			return a
		}(), []string{"spec.audience must not contain whitespace"}},
		{"origin with a path", func() client.Object {
			a := validApp(ns, v1alpha1.SinglePage)
			a.Spec.AllowedOrigins = []v1alpha1.Origin{"https://shop.acme.example/app"}
			return a
		}(), []string{"spec.allowedOrigins[0]", "must be an origin"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := k8s.Create(context.Background(), c.obj)
			if err == nil {
				t.Fatalf("the API server accepted an invalid object")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			// The refusal names the field below spec (kubectl prints it
			// first; editors and Argo CD point at it), never spec itself.
			if fields := refusedFields(err); !slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, "spec.") }) {
				t.Errorf("the refusal names fields %q, want one below spec:\n%v", fields, err)
			}
		})
	}
}

// refusedFields are the field paths of an API server refusal's causes.
func refusedFields(err error) []string {
	var fields []string
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			fields = append(fields, c.Field)
		}
	}
	return fields
}

// TestAdmissionRejectsMalformedDurations sends duration strings that
// metav1.Duration cannot even hold, as kubectl would send them from YAML.
func TestAdmissionRejectsMalformedDurations(t *testing.T) {
	ns := newNamespace(t, nil)
	for _, value := range []string{"10 hours", "1d", "-5m", "10", "h", "PT10H"} {
		t.Run(value, func(t *testing.T) {
			err := rawCreate(ns, `apiVersion: idtenant.dev/v1alpha1
kind: API
metadata: {name: malformed, namespace: `+ns+`}
spec:
  tenantRef: {name: acme}
  audience: https://x.acme.example
  tokenLifetime: "`+value+`"
`)
			if err == nil {
				t.Fatalf("the API server accepted tokenLifetime %q", value)
			}
			if !strings.Contains(err.Error(), "spec.tokenLifetime must be a Go duration such as 15m, 1h or 24h") {
				t.Errorf("error does not explain the format:\n%v", err)
			}
		})
	}
}

// TestAdmissionAccepts checks the edges of every range are allowed, so the
// rules are not stricter than documented.
func TestAdmissionAccepts(t *testing.T) {
	ns := newNamespace(t, nil)
	ctx := context.Background()
	tenant := validTenant(ns)
	tenant.Spec.IssuerURL = "http://127.0.0.1:9400/" + ns
	tenant.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("2400h"), AbsoluteTimeout: d("8760h")}
	tenant.Spec.KeyRotationPeriod = d("24h")
	tenant.Spec.TrustedProxies = []string{"10.244.0.0/16", "192.0.2.7", "fd00::/8", "::1"}
	if err := k8s.Create(ctx, tenant); err != nil {
		t.Errorf("loopback http issuer and maximum session: %v", err)
	}
	api := validAPI(ns)
	api.Spec.TokenLifetime = d("720h")
	api.Spec.TokenLifetimeForBrowserFlows = d("720h")
	if err := k8s.Create(ctx, api); err != nil {
		t.Errorf("maximum token lifetimes: %v", err)
	}
	native := validApp(ns, v1alpha1.Native)
	native.Name = "mobile"
	native.Spec.RedirectURIs = []v1alpha1.RedirectURI{"com.acme.shop:/callback", "http://127.0.0.1/cb", "http://[::1]:8080/cb"}
	native.Spec.IDTokenLifetime = d("1m")
	native.Spec.RefreshToken = &v1alpha1.RefreshTokenSpec{ReuseInterval: d("5m"), InactivityLifetime: d("720h")}
	if err := k8s.Create(ctx, native); err != nil {
		t.Errorf("native app with custom scheme and loopback redirects: %v", err)
	}
	// One replica may keep its state in memory; the shared store may have
	// the most replicas.
	memory := validTenant(ns)
	memory.Name = "scratch"
	memory.Spec.IssuerURL += "/scratch"
	memory.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StateMemory}
	memory.Spec.Replicas = new(int32(1))
	if err := k8s.Create(ctx, memory); err != nil {
		t.Errorf("memory store with one replica: %v", err)
	}
	shared := validTenant(ns)
	shared.Name = "shared"
	shared.Spec.IssuerURL += "/shared"
	shared.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StateKubernetes}
	shared.Spec.Replicas = new(int32(20))
	if err := k8s.Create(ctx, shared); err != nil {
		t.Errorf("kubernetes store with 20 replicas: %v", err)
	}
	if err := rawCreate(ns, `apiVersion: idtenant.dev/v1alpha1
kind: Application
metadata: {name: fractional, namespace: `+ns+`}
spec:
  tenantRef: {name: acme}
  type: SinglePage
  redirectURIs: ["http://localhost:3000/cb"]
  idTokenLifetime: "1.5h"
  refreshToken: {reuseInterval: "0s"}
`); err != nil {
		t.Errorf("fractional and zero durations: %v", err)
	}
}
