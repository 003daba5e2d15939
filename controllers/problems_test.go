package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestCrossObjectProblems covers what admission cannot see: each problem
// gives Ready=False with a reason and a message naming the object, and the
// right kstatus verdict, never a crash loop.
func TestCrossObjectProblems(t *testing.T) {
	ns := newNamespace(t, nil)
	other := newNamespace(t, nil)
	create(t, validTenant(ns), validAPI(ns))

	cases := []struct {
		name    string
		app     func(*v1alpha1.Application)
		reason  string
		message string
		verdict status.Status
	}{
		{"missing tenant", func(a *v1alpha1.Application) { a.Spec.TenantRef.Name = "nope" },
			v1alpha1.ReasonTenantNotFound, "Tenant " + ns + "/nope referenced by spec.tenantRef does not exist", status.InProgressStatus},
		{"missing API", func(a *v1alpha1.Application) { a.Spec.APIs = []v1alpha1.APIAccess{{Name: "payments"}} },
			v1alpha1.ReasonAPINotFound, "API " + ns + "/payments listed in spec.apis[0] does not exist", status.InProgressStatus},
		{"scope the API does not define", func(a *v1alpha1.Application) {
			a.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:delete"}}}
		}, v1alpha1.ReasonScopeNotDefined, `scope "orders:delete" in spec.apis[0].scopes is not defined in spec.scopes of API ` + ns + "/orders", status.FailedStatus},
		{"same API twice", func(a *v1alpha1.Application) {
			a.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders"}, {Name: "orders", Namespace: ns}}
		}, v1alpha1.ReasonInvalidSpec, "spec.apis[0] and spec.apis[1] both list API " + ns + "/orders", status.FailedStatus},
		{"namespace the tenant does not admit", func(a *v1alpha1.Application) {
			a.Namespace = other
			a.Spec.TenantRef.Namespace = ns
		}, v1alpha1.ReasonNamespaceNotAllowed, "does not admit Applications from namespace \"" + other + "\"", status.FailedStatus},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := validApp(ns, v1alpha1.SinglePage)
			app.Name = "app" + string(rune('a'+i))
			c.app(app)
			create(t, app)
			msg := expectNotReady(t, app, c.reason)
			NewWithT(t).Expect(msg).To(ContainSubstring(c.message))
			eventually(t, func(g Gomega) { g.Expect(kstatusOf(g, app)).To(Equal(c.verdict)) })
		})
	}
}

// TestAPIInOtherTenant refuses an Application that lists an API of another
// Tenant: its tokens would be signed by the wrong issuer.
func TestAPIInOtherTenant(t *testing.T) {
	ns := newNamespace(t, nil)
	second := validTenant(ns)
	second.Name = "globex"
	second.Spec.IssuerURL += "/globex"
	api := validAPI(ns)
	api.Spec.TenantRef.Name = "globex"
	app := validApp(ns, v1alpha1.RegularWeb)
	app.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders"}}
	create(t, validTenant(ns), second, api, app)
	msg := expectNotReady(t, app, v1alpha1.ReasonAPIInOtherTenant)
	NewWithT(t).Expect(msg).To(Equal("API " + ns + "/orders listed in spec.apis[0] attaches to Tenant " + ns + "/globex, not to this Application's Tenant " + ns + "/acme"))
	expectReady(t, api)
}

// TestPolicyReject refuses explicit requests above a ceiling in Reject mode,
// keeps the object out of the effective configuration, and recovers when the
// request fits.
func TestPolicyReject(t *testing.T) {
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Spec.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyReject, MaxIDTokenLifetime: d("1h"), MaxAccessTokenLifetime: d("2h")}
	api := validAPI(ns)
	api.Spec.TokenLifetime = d("3h")
	app := validApp(ns, v1alpha1.RegularWeb)
	app.Spec.IDTokenLifetime = d("90m")
	create(t, tenant, api, app)

	msg := expectNotReady(t, app, v1alpha1.ReasonPolicyViolation)
	g := NewWithT(t)
	g.Expect(msg).To(Equal("Refused by Tenant policy, not served by the issuer: Application shopfront/spec.idTokenLifetime 1h30m exceeds Tenant acme/spec.policy.maxIDTokenLifetime 1h (policy mode Reject)."))
	g.Expect(app.Status.Effective).To(BeNil())
	eventually(t, func(g Gomega) {
		g.Expect(condition(g, app, v1alpha1.ConditionStalled).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(kstatusOf(g, app)).To(Equal(status.FailedStatus))
	})
	apiMsg := expectNotReady(t, api, v1alpha1.ReasonPolicyViolation)
	g.Expect(apiMsg).To(ContainSubstring("API orders/spec.tokenLifetime 3h exceeds Tenant acme/spec.policy.maxAccessTokenLifetime 2h"))

	// An Application listing the refused API waits for it.
	user := validApp(ns, v1alpha1.MachineToMachine)
	user.Name = "batch"
	user.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders"}}
	create(t, user)
	g.Expect(expectNotReady(t, user, v1alpha1.ReasonPolicyViolation)).To(ContainSubstring("API " + ns + "/orders listed in spec.apis[0] is refused by Tenant policy"))

	update(t, app, func(a *v1alpha1.Application) { a.Spec.IDTokenLifetime = d("1h") })
	expectReady(t, app)
	update(t, api, func(a *v1alpha1.API) { a.Spec.TokenLifetime = nil })
	expectReady(t, api)
	expectReady(t, user)
	eventually(t, func(g Gomega) {
		g.Expect(condition(g, api, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(api.Status.Effective.TokenLifetime.BoundBy).To(Equal("Tenant acme/spec.policy.maxAccessTokenLifetime"),
			"a default above the ceiling is lowered, never rejected")
	})
}

// TestAudienceConflict keeps the older of two APIs that claim one audience.
func TestAudienceConflict(t *testing.T) {
	ns := newNamespace(t, nil)
	first := validAPI(ns)
	create(t, validTenant(ns), first)
	expectReady(t, first)
	second := validAPI(ns)
	second.Name = "orders-v2"
	create(t, second)
	msg := expectNotReady(t, second, v1alpha1.ReasonAudienceConflict)
	NewWithT(t).Expect(msg).To(ContainSubstring(`spec.audience "https://orders.acme.example" is already used by API ` + ns + "/orders"))
	expectReady(t, first)

	if err := k8s.Delete(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	expectReady(t, second)
}

// TestCredentialsSecret checks the client secret is generated once, kept
// across spec changes, never in status, recreated if deleted, and that a
// foreign Secret of the same name is never overwritten.
func TestCredentialsSecret(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	app := validApp(ns, v1alpha1.RegularWeb)
	create(t, validTenant(ns), app)
	expectReady(t, app)

	key := client.ObjectKey{Namespace: ns, Name: "shopfront-oidc-client"}
	secret := &corev1.Secret{}
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, key, secret)).To(Succeed())
	original := string(secret.Data["client-secret"])

	update(t, app, func(a *v1alpha1.Application) { a.Spec.IDTokenLifetime = d("2h") })
	eventually(t, func(g Gomega) {
		g.Expect(condition(g, app, v1alpha1.ConditionReady).Message).To(HavePrefix("ID tokens last 2h."))
	})
	g.Expect(k8s.Get(ctx, key, secret)).To(Succeed())
	g.Expect(string(secret.Data["client-secret"])).To(Equal(original), "a spec change must not rotate the secret")

	raw := &v1alpha1.Application{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), raw)).To(Succeed())
	g.Expect(statusText(g, raw)).NotTo(ContainSubstring(original), "the secret never appears in status")

	// Switching to a public client removes the now meaningless secret.
	update(t, app, func(a *v1alpha1.Application) { a.Spec.Type = v1alpha1.SinglePage })
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, key, &corev1.Secret{})).NotTo(Succeed())
		g.Expect(condition(g, app, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(app.Status.CredentialsSecretName).To(BeEmpty())
	})

	// A Secret someone else owns is never taken over.
	foreign := validApp(ns, v1alpha1.MachineToMachine)
	foreign.Name = "batch"
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "batch-oidc-client", Namespace: ns},
		StringData: map[string]string{"client-secret": "handmade"}}, foreign)
	msg := expectNotReady(t, foreign, v1alpha1.ReasonCredentialsError)
	g.Expect(msg).To(ContainSubstring("Secret " + ns + "/batch-oidc-client exists and is not owned by this Application"))
	s := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "batch-oidc-client"}, s)).To(Succeed())
	g.Expect(string(s.Data["client-secret"])).To(Equal("handmade"))
}

// TestReadyEvents emits one Event per Ready transition, not one per pass.
func TestReadyEvents(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	app := validApp(ns, v1alpha1.SinglePage)
	create(t, app)
	expectNotReady(t, app, v1alpha1.ReasonTenantNotFound)
	create(t, validTenant(ns))
	expectReady(t, app)
	// A Tenant change that renders a new configuration generation must not
	// flap this Application: its own spec was already served.
	tenant := validTenant(ns)
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Replicas = new(int32(2)) })

	eventually(t, func(g Gomega) {
		var list eventsv1.EventList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		var reasons []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "Application" && e.Regarding.Name == app.Name {
				reasons = append(reasons, e.Type+"/"+e.Reason)
			}
		}
		// Waiting for the Tenant, then Ready. Waiting for the issuer to
		// serve the new client is work in progress, not a warning; the
		// Tenant change after that keeps this Application's spec in force,
		// so no further transition.
		g.Expect(reasons).To(ConsistOf("Warning/TenantNotFound", "Normal/Ready"))
	})
}

// TestApplicationListingAConflictingAPI: the API that lost an audience
// conflict is not served, so an Application listing it must not claim tokens
// for it.
func TestApplicationListingAConflictingAPI(t *testing.T) {
	ns := newNamespace(t, nil)
	second := validAPI(ns)
	second.Name = "orders-copy"
	app := validApp(ns, v1alpha1.MachineToMachine)
	app.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders-copy"}}
	create(t, validTenant(ns), validAPI(ns))
	expectReady(t, validAPI(ns))
	create(t, second, app)
	msg := expectNotReady(t, app, v1alpha1.ReasonAudienceConflict)
	NewWithT(t).Expect(msg).To(ContainSubstring("API " + ns + "/orders-copy listed in spec.apis[0] is not served: its audience \"https://orders.acme.example\" belongs to API " + ns + "/orders"))
	eventually(t, func(g Gomega) { g.Expect(app.Status.Effective).To(BeNil()) })
}

// TestCredentialsFollowIssuerURL keeps the non-secret fields of the
// credentials Secret current, and recovers once a foreign Secret is gone.
func TestCredentialsFollowIssuerURL(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	app := validApp(ns, v1alpha1.MachineToMachine)
	create(t, tenant, app)
	expectReady(t, app)
	key := client.ObjectKey{Namespace: ns, Name: "shopfront-oidc-client"}
	s := &corev1.Secret{}
	NewWithT(t).Expect(k8s.Get(ctx, key, s)).To(Succeed())
	secret := string(s.Data["client-secret"])

	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.IssuerURL = "https://login.acme.example/" + ns })
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, key, s)).To(Succeed())
		g.Expect(string(s.Data["issuer-url"])).To(Equal("https://login.acme.example/" + ns))
		g.Expect(string(s.Data["client-secret"])).To(Equal(secret))
	})
}

func TestCredentialsErrorClearsWhenTheForeignSecretGoes(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shopfront-oidc-client", Namespace: ns}}
	app := validApp(ns, v1alpha1.MachineToMachine)
	create(t, validTenant(ns), foreign, app)
	expectNotReady(t, app, v1alpha1.ReasonCredentialsError)
	eventually(t, func(g Gomega) { g.Expect(kstatusOf(g, app)).To(Equal(status.InProgressStatus)) })
	NewWithT(t).Expect(k8s.Delete(ctx, foreign)).To(Succeed())
	expectReady(t, app)
}
