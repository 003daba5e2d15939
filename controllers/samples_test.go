package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/controlplane"
)

// TestSamples applies config/samples, exactly what `idtenant dev` applies,
// and checks what a user reads back: every object Ready and Current for
// kstatus, and the effective lifetimes with the setting that decided each.
func TestSamples(t *testing.T) {
	ctx := context.Background()
	if _, err := controlplane.ApplySamples(ctx, k8s); err != nil {
		t.Fatal(err)
	}

	eventually(t, func(g Gomega) {
		var all []client.Object
		tenants := &v1alpha1.TenantList{}
		g.Expect(k8s.List(ctx, tenants, client.InNamespace("identity"))).To(Succeed())
		all = append(all, ptrsOf(tenants.Items)...)
		for _, ns := range []string{"shop", "payments"} {
			apps, apis := &v1alpha1.ApplicationList{}, &v1alpha1.APIList{}
			g.Expect(k8s.List(ctx, apps, client.InNamespace(ns))).To(Succeed())
			g.Expect(k8s.List(ctx, apis, client.InNamespace(ns))).To(Succeed())
			all = append(all, ptrsOf(apps.Items)...)
			all = append(all, ptrsOf(apis.Items)...)
		}
		g.Expect(all).To(HaveLen(1+4+2), "every sample object")
		for _, o := range all {
			g.Expect(readyOf(o)).To(Equal(metav1.ConditionTrue), "%T %s", o, o.GetName())
			g.Expect(kstatusOf(g, o)).To(Equal(status.CurrentStatus), "%T %s", o, o.GetName())
		}
	})

	tenant := &v1alpha1.Tenant{}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "identity", Name: "acme"}, tenant)).To(Succeed())
		g.Expect(tenant.Status.Applications).To(Equal(int32(4)))
		g.Expect(tenant.Status.APIs).To(Equal(int32(2)))
	})
	if tenant.Status.DiscoveryURL != "http://127.0.0.1:9400/.well-known/openid-configuration" {
		t.Errorf("discoveryURL = %q", tenant.Status.DiscoveryURL)
	}
	if s := tenant.Status.Effective.Session; s.InactivityTimeout.Duration != "12h" || s.AbsoluteTimeout.Seconds != 604800 {
		t.Errorf("tenant session = %+v", s)
	}
	if tenant.Status.Effective.StateType != v1alpha1.StateKubernetes {
		t.Errorf("tenant state store = %q, want Kubernetes", tenant.Status.Effective.StateType)
	}

	// The storefront is a SinglePage app: browser-flow lifetimes, and the
	// billing API's 2h default lowered to the tenant's 1h browser ceiling.
	spa := &v1alpha1.Application{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "storefront"}, spa); err != nil {
		t.Fatal(err)
	}
	want := []v1alpha1.EffectiveAccessToken{
		{API: "shop/orders", Audience: "https://orders.acme.example", Flow: v1alpha1.FlowBrowser,
			FlowRule:         "SinglePage application (code runs in the browser)",
			Lifetime:         v1alpha1.EffectiveLifetime{Duration: "15m", Seconds: 900, BoundBy: "API orders/spec.tokenLifetimeForBrowserFlows"},
			SigningAlgorithm: v1alpha1.RS256, Scopes: []string{"orders:read", "orders:write"}},
		{API: "payments/billing", Audience: "https://billing.acme.example", Flow: v1alpha1.FlowBrowser,
			FlowRule:         "SinglePage application (code runs in the browser)",
			Lifetime:         v1alpha1.EffectiveLifetime{Duration: "1h", Seconds: 3600, BoundBy: "Tenant acme/spec.policy.maxBrowserAccessTokenLifetime"},
			SigningAlgorithm: v1alpha1.ES256, Scopes: []string{"invoices:read"}},
	}
	g := NewWithT(t)
	g.Expect(spa.Status.Effective.AccessTokens).To(Equal(want))
	g.Expect(*spa.Status.Effective.IDToken).To(Equal(v1alpha1.EffectiveLifetime{Duration: "1h", Seconds: 3600, BoundBy: "Application storefront/spec.idTokenLifetime"}))
	g.Expect(spa.Status.ClientID).To(Equal("storefront.shop"))
	g.Expect(spa.Status.CredentialsSecretName).To(BeEmpty(), "a public client has no secret")
	g.Expect(meta.FindStatusCondition(spa.Status.Conditions, v1alpha1.ConditionReady).Message).To(Equal(
		"ID tokens last 1h. Access tokens: orders 15m (browser flow), billing 1h (browser flow). " +
			"Users log in again after 12h without activity, and after 168h at the latest. " +
			"Refresh tokens rotate on every use and end with the session, 168h after login at the latest (their 360h inactivity and 720h absolute lifetimes never apply)."))
	// Session-bound refresh tokens cannot outlive the 168h session: status
	// says so, with the 720h default beside it.
	g.Expect(spa.Status.Effective.RefreshToken.AbsoluteLifetime).To(Equal(v1alpha1.EffectiveLifetime{
		Duration: "168h", Seconds: 604800, BoundBy: "Tenant acme/spec.session.absoluteTimeout",
		Configured: &v1alpha1.ConfiguredLifetime{Duration: "720h", Seconds: 2592000, BoundBy: "Application storefront/spec.refreshToken.absoluteLifetime (default)"}}))

	// The billing API asked for 24h; the tenant caps access tokens at 12h.
	billing := &v1alpha1.API{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "payments", Name: "billing"}, billing)).To(Succeed())
	g.Expect(billing.Status.Effective.TokenLifetime).To(Equal(v1alpha1.EffectiveLifetime{
		Duration: "12h", Seconds: 43200, BoundBy: "Tenant acme/spec.policy.maxAccessTokenLifetime"}))
	clamped := meta.FindStatusCondition(billing.Status.Conditions, v1alpha1.ConditionLifetimesClamped)
	g.Expect(clamped.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(clamped.Message).To(Equal("API billing/spec.tokenLifetime 24h lowered to 12h by Tenant acme/spec.policy.maxAccessTokenLifetime."))
	g.Expect(billing.Status.Applications).To(Equal([]string{"payments/invoicer", "shop/storefront"}))

	// Confidential clients get generated credentials; public ones none.
	for _, c := range []struct{ ns, app string }{{"shop", "backoffice"}, {"payments", "invoicer"}} {
		app := &v1alpha1.Application{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: c.app}, app)).To(Succeed())
		g.Expect(app.Status.CredentialsSecretName).To(Equal(c.app + "-oidc-client"))
		secret := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: c.ns, Name: c.app + "-oidc-client"}, secret)).To(Succeed())
		g.Expect(string(secret.Data["client-id"])).To(Equal(app.Status.ClientID))
		g.Expect(secret.Data["client-secret"]).To(HaveLen(43), "256 bits, base64url")
		g.Expect(string(secret.Data["issuer-url"])).To(Equal("http://127.0.0.1:9400"))
		g.Expect(metav1.IsControlledBy(secret, app)).To(BeTrue())
	}
	for _, name := range []string{"storefront-oidc-client", "mobile-oidc-client"} {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: "shop", Name: name}, &corev1.Secret{})
		g.Expect(err).To(HaveOccurred(), "public client %s must not get a secret", name)
	}
}

func ptrsOf[T any, P interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = P(&items[i])
	}
	return out
}
