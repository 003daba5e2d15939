package serving

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// The decision's clock is fixed: audience claims are stamped with it, and
// nothing else in the plan may depend on the wall clock.
var decideNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const strongSecret = "kV3sN8qZ1xW7pL0rT5yB2mC9dF4gH6jQ8aE1uI3oP7s"

func d(s string) *metav1.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: v}
}

func decideTenant(mutate ...func(*v1alpha1.TenantSpec)) *v1alpha1.Tenant {
	t := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example",
			AllowedNamespaces: &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}}}
	for _, m := range mutate {
		m(&t.Spec)
	}
	return t
}

// newAPI is an API of Tenant acme created minutesAgo before decideNow.
func newAPI(ns, name, aud string, minutesAgo int, mutate ...func(*v1alpha1.APISpec)) *v1alpha1.API {
	api := &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
		CreationTimestamp: metav1.NewTime(decideNow.Add(-time.Duration(minutesAgo) * time.Minute))},
		Spec: v1alpha1.APISpec{TenantRef: v1alpha1.TenantReference{Name: "acme", Namespace: "id"}, Audience: aud,
			Scopes: []v1alpha1.APIScope{{Name: "read"}}}}
	for _, m := range mutate {
		m(&api.Spec)
	}
	return api
}

func newApp(ns, name string, typ v1alpha1.ApplicationType, apis ...v1alpha1.APIAccess) *v1alpha1.Application {
	return &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name)},
		Spec: v1alpha1.ApplicationSpec{TenantRef: v1alpha1.TenantReference{Name: "acme", Namespace: "id"}, Type: typ, APIs: apis}}
}

func uses(ns, name string, scopes ...v1alpha1.ScopeName) v1alpha1.APIAccess {
	return v1alpha1.APIAccess{Namespace: ns, Name: name, Scopes: scopes}
}

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func TestDecide(t *testing.T) {
	orders := func(mutate ...func(*v1alpha1.APISpec)) *v1alpha1.API {
		return newAPI("apis", "orders", "https://orders.acme.example", 60, mutate...)
	}
	sharedWithShop := func(s *v1alpha1.APISpec) {
		s.AllowedApplications = &v1alpha1.AllowedApplications{Namespaces: v1alpha1.ApplicationNamespaces{From: v1alpha1.ApplicationsFromNames, Names: []string{"shop"}}}
	}
	web := func(ns string, apis ...v1alpha1.APIAccess) *v1alpha1.Application {
		return newApp(ns, "web", v1alpha1.SinglePage, apis...)
	}
	type want struct {
		// served lists "Kind ns/name" of what the issuer serves.
		served []string
		// problems maps "Kind ns/name" to the reason of its problem.
		problems map[string]string
		check    func(t *testing.T, p Plan)
	}
	cases := []struct {
		name string
		in   Input
		want want
	}{
		{
			name: "consent: an API shared with one namespace serves that namespace's Application with it and another's without it",
			in: Input{Tenant: decideTenant(), APIs: []*v1alpha1.API{orders(sharedWithShop)},
				Applications: []*v1alpha1.Application{web("shop", uses("apis", "orders", "read")), web("ads", uses("apis", "orders", "read"))}},
			want: want{
				served:   []string{"API apis/orders", "Application shop/web", "Application ads/web"},
				problems: map[string]string{"Application ads/web": v1alpha1.ReasonAPINotShared},
				check: func(t *testing.T, p Plan) {
					ads := p.Applications[key("ads", "web")]
					if len(ads.Kept) != 0 || len(ads.Application.Spec.APIs) != 0 || !ads.Problem.ServedWithout {
						t.Errorf("ads/web is served without orders: kept %v, served spec.apis %v", ads.Kept, ads.Application.Spec.APIs)
					}
					if len(p.Applications[key("ads", "web")].Effective.AccessTokens) != 0 || len(p.Applications[key("shop", "web")].Effective.AccessTokens) == 0 {
						t.Errorf("the matrices do not follow consent: ads/web must have no access token, shop/web some")
					}
					v := p.APIs[key("apis", "orders")]
					if !slices.Equal(v.Applications, []string{"shop/web"}) || !slices.Equal(v.DeniedApplications, []string{"ads/web"}) {
						t.Errorf("orders lists %v, denies %v", v.Applications, v.DeniedApplications)
					}
				},
			},
		},
		{
			name: "audience conflict: the oldest API keeps the audience, the younger one and the Application listing it are not served",
			in: Input{Tenant: decideTenant(),
				APIs: []*v1alpha1.API{
					newAPI("apis", "orders-v2", "https://orders.acme.example", 5),
					newAPI("apis", "orders", "https://orders.acme.example", 60),
				},
				Applications: []*v1alpha1.Application{web("apis", uses("apis", "orders-v2"))}},
			want: want{
				served: []string{"API apis/orders"},
				problems: map[string]string{
					"API apis/orders-v2":   v1alpha1.ReasonAudienceConflict,
					"Application apis/web": v1alpha1.ReasonAudienceConflict,
				},
				check: func(t *testing.T, p Plan) {
					if m := p.Applications[key("apis", "web")].Problem.Message; !strings.Contains(m, "belongs to API apis/orders") {
						t.Errorf("the Application does not say who holds the audience: %s", m)
					}
					if len(p.Audiences.Claims) != 1 || p.Audiences.Claims[0].API != "orders" || !p.Audiences.Claims[0].ClaimedAt.Time.Equal(decideNow) {
						t.Errorf("claims to record: %+v", p.Audiences.Claims)
					}
				},
			},
		},
		{
			name: "policy Clamp: a lifetime above the Tenant's ceiling is served at the ceiling, boundBy the policy",
			in: Input{Tenant: decideTenant(func(s *v1alpha1.TenantSpec) {
				s.Policy = &v1alpha1.LifetimePolicy{MaxAccessTokenLifetime: d("1h")}
			}), APIs: []*v1alpha1.API{orders(func(s *v1alpha1.APISpec) { s.TokenLifetime = d("24h") })},
				Applications: []*v1alpha1.Application{web("apis", uses("apis", "orders"))}},
			want: want{
				served: []string{"API apis/orders", "Application apis/web"},
				check: func(t *testing.T, p Plan) {
					std := p.APIs[key("apis", "orders")].Effective.Standard
					if std.Duration != time.Hour || std.BoundBy != "Tenant acme/spec.policy.maxAccessTokenLifetime" {
						t.Errorf("standard lifetime %v bound by %q", std.Duration, std.BoundBy)
					}
					if n := len(p.APIs[key("apis", "orders")].Effective.Enforcement.Clamps); n != 1 {
						t.Errorf("%d clamps, want 1", n)
					}
				},
			},
		},
		{
			name: "policy Reject: an API above the ceiling is refused, and so is an Application that lists it",
			in: Input{Tenant: decideTenant(func(s *v1alpha1.TenantSpec) {
				s.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyReject, MaxAccessTokenLifetime: d("1h")}
			}), APIs: []*v1alpha1.API{orders(func(s *v1alpha1.APISpec) { s.TokenLifetime = d("24h") })},
				Applications: []*v1alpha1.Application{web("apis", uses("apis", "orders")), web("other")}},
			want: want{
				served:   []string{"Application other/web"},
				problems: map[string]string{"Application apis/web": v1alpha1.ReasonPolicyViolation},
				check: func(t *testing.T, p Plan) {
					if v := p.APIs[key("apis", "orders")]; v.Served || !v.Effective.Enforcement.Rejected() {
						t.Errorf("orders: served %v, rejected %v", v.Served, v.Effective.Enforcement.Rejected())
					}
				},
			},
		},
		{
			name: "weak secrets: a confidential client is served only with a strong secret in a Secret it controls",
			in: Input{Tenant: decideTenant(),
				Applications: []*v1alpha1.Application{
					newApp("shop", "strong", v1alpha1.RegularWeb), newApp("shop", "weak", v1alpha1.RegularWeb),
					newApp("shop", "foreign", v1alpha1.RegularWeb), newApp("shop", "pending", v1alpha1.MachineToMachine),
				},
				Credentials: map[string]Credential{
					"strong.shop":  {Secret: []byte(strongSecret), Controlled: true},
					"weak.shop":    {Secret: []byte("password123"), Controlled: true},
					"foreign.shop": {Secret: []byte(strongSecret), Controlled: false},
				}},
			want: want{
				served: []string{"Application shop/strong"},
				check: func(t *testing.T, p Plan) {
					sum := sha256.Sum256([]byte(strongSecret))
					if got := p.Applications[key("shop", "strong")].SecretDigest; got != hex.EncodeToString(sum[:]) {
						t.Errorf("secret digest %q", got)
					}
					if got := p.Applications[key("shop", "weak")].SecretDigest; got != "" {
						t.Errorf("a weak secret got a digest: %q", got)
					}
				},
			},
		},
		{
			name: "session cap: an ID token configured longer than the session lives at most the session's absolute timeout",
			in: Input{Tenant: decideTenant(func(s *v1alpha1.TenantSpec) {
				s.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("30m"), AbsoluteTimeout: d("47m")}
			}), Applications: []*v1alpha1.Application{func() *v1alpha1.Application {
				a := web("shop")
				a.Spec.IDTokenLifetime = d("2h")
				return a
			}()}},
			want: want{
				served: []string{"Application shop/web"},
				check: func(t *testing.T, p Plan) {
					id := p.Applications[key("shop", "web")].Effective.Status().IDToken
					if id.Seconds != 47*60 || id.BoundBy != "Tenant acme/spec.session.absoluteTimeout" || id.Configured == nil || id.Configured.Seconds != 7200 {
						t.Errorf("ID token %+v", id)
					}
				},
			},
		},
		{
			name: "admission: objects from a namespace the Tenant does not admit are neither counted nor served",
			in: Input{Tenant: decideTenant(func(s *v1alpha1.TenantSpec) {
				s.AllowedNamespaces = &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSelector,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"idtenant": "acme"}}}
			}), APIs: []*v1alpha1.API{orders(sharedWithShop)},
				Applications:    []*v1alpha1.Application{web("shop", uses("apis", "orders")), web("ads")},
				NamespaceLabels: map[string]map[string]string{"apis": {"idtenant": "acme"}, "shop": {"idtenant": "acme"}}},
			want: want{
				served:   []string{"API apis/orders", "Application shop/web"},
				problems: map[string]string{"Application ads/web": v1alpha1.ReasonNamespaceNotAllowed},
				check: func(t *testing.T, p Plan) {
					if p.AdmittedAPIs != 1 || p.AdmittedApplications != 1 {
						t.Errorf("admitted %d APIs, %d Applications", p.AdmittedAPIs, p.AdmittedApplications)
					}
				},
			},
		},
		{
			name: "references: an API that does not exist, or attaches to another Tenant, keeps the Application out",
			in: Input{Tenant: decideTenant(),
				Applications: []*v1alpha1.Application{web("a", uses("apis", "missing")), web("b", uses("other", "billing"))},
				Referenced: map[types.NamespacedName]*v1alpha1.API{key("other", "billing"): func() *v1alpha1.API {
					api := newAPI("other", "billing", "https://billing.example", 10)
					api.Spec.TenantRef = v1alpha1.TenantReference{Name: "globex"}
					return api
				}()}},
			want: want{
				problems: map[string]string{"Application a/web": v1alpha1.ReasonAPINotFound, "Application b/web": v1alpha1.ReasonAPIInOtherTenant},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Decide(c.in, decideNow)
			var served []string
			problems := map[string]string{}
			for _, api := range c.in.APIs {
				v := p.APIs[key(api.Namespace, api.Name)]
				if v.Served {
					served = append(served, "API "+api.Namespace+"/"+api.Name)
				}
				if v.Problem != nil {
					problems["API "+api.Namespace+"/"+api.Name] = v.Problem.Reason
				}
			}
			for _, app := range c.in.Applications {
				v := p.Applications[key(app.Namespace, app.Name)]
				if v.Served {
					served = append(served, "Application "+app.Namespace+"/"+app.Name)
				}
				if v.Problem != nil {
					problems["Application "+app.Namespace+"/"+app.Name] = v.Problem.Reason
				}
			}
			if !slices.Equal(served, c.want.served) {
				t.Errorf("served %v, want %v", served, c.want.served)
			}
			if c.want.problems == nil {
				c.want.problems = map[string]string{}
			}
			if len(problems) != len(c.want.problems) {
				t.Errorf("problems %v, want %v", problems, c.want.problems)
			}
			for k, reason := range c.want.problems {
				if problems[k] != reason {
					t.Errorf("%s: problem %q, want %q", k, problems[k], reason)
				}
			}
			apps, apis := p.Served(c.in)
			if len(apps)+len(apis) != len(c.want.served) {
				t.Errorf("Plan.Served holds %d objects, the verdicts %d", len(apps)+len(apis), len(c.want.served))
			}
			if c.want.check != nil {
				c.want.check(t, p)
			}
			// Deciding again over the same input and clock gives the same plan.
			if again := Decide(c.in, decideNow); len(again.Audiences.Claims) != len(p.Audiences.Claims) {
				t.Errorf("a second decision recorded other claims")
			}
		})
	}
}
