package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestDependentsFollowChanges changes the objects an Application depends on
// and checks that its status follows without anyone touching it.
func TestDependentsFollowChanges(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant, api := validTenant(ns), validAPI(ns)
	app := validApp(ns, v1alpha1.RegularWeb)
	app.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}
	create(t, tenant, api, app)
	expectReady(t, app)

	standard := func(g Gomega) v1alpha1.EffectiveLifetime {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		g.Expect(app.Status.Effective).NotTo(BeNil())
		g.Expect(app.Status.Effective.AccessTokens).To(HaveLen(1))
		return app.Status.Effective.AccessTokens[0].Lifetime
	}
	eventually(t, func(g Gomega) {
		g.Expect(standard(g)).To(Equal(v1alpha1.EffectiveLifetime{Duration: "24h", Seconds: 86400, BoundBy: "API orders/spec.tokenLifetime (default)"}))
	})

	t.Run("API tokenLifetime", func(t *testing.T) {
		update(t, api, func(a *v1alpha1.API) { a.Spec.TokenLifetime = d("30m") })
		eventually(t, func(g Gomega) {
			g.Expect(standard(g)).To(Equal(v1alpha1.EffectiveLifetime{Duration: "30m", Seconds: 1800, BoundBy: "API orders/spec.tokenLifetime"}))
		})
	})

	t.Run("Tenant policy ceiling", func(t *testing.T) {
		update(t, tenant, func(tn *v1alpha1.Tenant) {
			tn.Spec.Policy = &v1alpha1.LifetimePolicy{MaxAccessTokenLifetime: d("10m"), MaxIDTokenLifetime: d("5m")}
		})
		eventually(t, func(g Gomega) {
			g.Expect(standard(g)).To(Equal(v1alpha1.EffectiveLifetime{Duration: "10m", Seconds: 600, BoundBy: "Tenant acme/spec.policy.maxAccessTokenLifetime"}))
			g.Expect(app.Status.Effective.IDToken.Duration).To(Equal("5m"))
		})
		// The API asked for 30m explicitly: clamped, and it says so.
		eventually(t, func(g Gomega) {
			c := condition(g, api, v1alpha1.ConditionLifetimesClamped)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(ContainSubstring("API orders/spec.tokenLifetime 30m lowered to 10m by Tenant acme/spec.policy.maxAccessTokenLifetime"))
		})
	})

	t.Run("Tenant session", func(t *testing.T) {
		update(t, tenant, func(tn *v1alpha1.Tenant) {
			tn.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("15m"), AbsoluteTimeout: d("8h")}
		})
		eventually(t, func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
			g.Expect(app.Status.Effective.Session.InactivityTimeout.Duration).To(Equal("15m"))
			g.Expect(app.Status.Effective.Session.AbsoluteTimeout.Duration).To(Equal("8h"))
		})
	})

	t.Run("Tenant deleted and recreated", func(t *testing.T) {
		if err := k8s.Delete(ctx, tenant); err != nil {
			t.Fatal(err)
		}
		msg := expectNotReady(t, app, v1alpha1.ReasonTenantNotFound)
		NewWithT(t).Expect(msg).To(ContainSubstring("Tenant " + ns + "/acme referenced by spec.tenantRef does not exist"))
		eventually(t, func(g Gomega) {
			g.Expect(kstatusOf(g, app)).To(Equal(status.InProgressStatus), "waiting for a Tenant is progress, not failure")
			g.Expect(app.Status.Effective).To(BeNil(), "no lifetimes are effective without an issuer")
		})
		expectNotReady(t, api, v1alpha1.ReasonTenantNotFound)

		create(t, validTenant(ns))
		expectReady(t, app)
		expectReady(t, api)
	})

	t.Run("Tenant counts", func(t *testing.T) {
		tn := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: ns}}
		eventually(t, func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tn), tn)).To(Succeed())
			g.Expect(tn.Status.Applications).To(Equal(int32(1)))
			g.Expect(tn.Status.APIs).To(Equal(int32(1)))
		})
		if err := k8s.Delete(ctx, app); err != nil {
			t.Fatal(err)
		}
		eventually(t, func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tn), tn)).To(Succeed())
			g.Expect(tn.Status.Applications).To(Equal(int32(0)))
		})
	})
}

// TestNamespaceAdmission follows the Gateway API model: a Tenant admits
// other namespaces only as its allowedNamespaces says, and a label change
// takes effect without touching the Application.
func TestNamespaceAdmission(t *testing.T) {
	ctx := context.Background()
	idNS := newNamespace(t, nil)
	teamNS := newNamespace(t, nil)
	tenant := validTenant(idNS)
	tenant.Spec.AllowedNamespaces = &v1alpha1.AllowedNamespaces{
		From:     v1alpha1.NamespacesFromSelector,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"idtenant.dev/tenant": "acme"}},
	}
	app := validApp(teamNS, v1alpha1.SinglePage)
	app.Spec.TenantRef.Namespace = idNS
	create(t, tenant, app)

	msg := expectNotReady(t, app, v1alpha1.ReasonNamespaceNotAllowed)
	NewWithT(t).Expect(msg).To(ContainSubstring("Tenant " + idNS + "/acme does not admit Applications from namespace \"" + teamNS + "\""))
	eventually(t, func(g Gomega) {
		g.Expect(kstatusOf(g, app)).To(Equal(status.FailedStatus), "only a spec or label change can fix it")
		g.Expect(condition(g, app, v1alpha1.ConditionStalled).Status).To(Equal(metav1.ConditionTrue))
	})

	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: teamNS}}
	update(t, nsObj, func(n *corev1.Namespace) { n.Labels = map[string]string{"idtenant.dev/tenant": "acme"} })
	expectReady(t, app)
	eventually(t, func(g Gomega) {
		g.Expect(kstatusOf(g, app)).To(Equal(status.CurrentStatus))
	})

	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.AllowedNamespaces = nil })
	expectNotReady(t, app, v1alpha1.ReasonNamespaceNotAllowed)
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.AllowedNamespaces = &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}
	})
	expectReady(t, app)
	_ = ctx
}
