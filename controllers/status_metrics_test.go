package controllers_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// series reads the manager's registry (what /metrics serves) and returns
// the values of metric whose namespace label is ns, keyed by the other
// labels named in keyBy, joined by "/".
func series(g Gomega, metric, ns string, keyBy ...string) map[string]float64 {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] != ns {
				continue
			}
			key := ""
			for i, name := range keyBy {
				if i > 0 {
					key += "/"
				}
				key += labels[name]
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

// lifetimesInStatus lists every effective lifetime the objects' status
// shows, keyed as series keys them by kind/name/tenant/token/api/flow.
func lifetimesInStatus(g Gomega, tenant *v1alpha1.Tenant, apis []*v1alpha1.API, apps []*v1alpha1.Application) map[string]float64 {
	ctx := context.Background()
	want := map[string]float64{}
	tk := tenant.Namespace + "/" + tenant.Name
	add := func(kind, name, token, api, flow string, seconds int64) {
		want[fmt.Sprintf("%s/%s/%s/%s/%s/%s", kind, name, tk, token, api, flow)] = float64(seconds)
	}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
	g.Expect(tenant.Status.Effective).NotTo(BeNil())
	add("Tenant", tenant.Name, "session_idle", "", "", tenant.Status.Effective.Session.InactivityTimeout.Seconds)
	add("Tenant", tenant.Name, "session_absolute", "", "", tenant.Status.Effective.Session.AbsoluteTimeout.Seconds)
	for _, api := range apis {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(api), api)).To(Succeed())
		g.Expect(api.Status.Effective).NotTo(BeNil())
		ref := api.Namespace + "/" + api.Name
		add("API", api.Name, "access", ref, "Standard", api.Status.Effective.TokenLifetime.Seconds)
		add("API", api.Name, "access", ref, "Browser", api.Status.Effective.TokenLifetimeForBrowserFlows.Seconds)
	}
	for _, app := range apps {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		e := app.Status.Effective
		g.Expect(e).NotTo(BeNil())
		if e.IDToken != nil {
			add("Application", app.Name, "id", "", "", e.IDToken.Seconds)
		}
		for _, at := range e.AccessTokens {
			add("Application", app.Name, "access", at.API, string(at.Flow), at.Lifetime.Seconds)
		}
		if r := e.RefreshToken; r != nil {
			add("Application", app.Name, "refresh_idle", "", "", r.InactivityLifetime.Seconds)
			add("Application", app.Name, "refresh_absolute", "", "", r.AbsoluteLifetime.Seconds)
		}
		if s := e.Session; s != nil {
			add("Application", app.Name, "session_idle", "", "", s.InactivityTimeout.Seconds)
			add("Application", app.Name, "session_absolute", "", "", s.AbsoluteTimeout.Seconds)
		}
	}
	return want
}

// TestLifetimeMetricsMatchStatus: idtenant_effective_lifetime_seconds says
// what status says, row for row, including the session cap and a policy
// clamp; a row that leaves status leaves the metrics, and so does a
// deleted object.
func TestLifetimeMetricsMatchStatus(t *testing.T) {
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Spec.Session = &v1alpha1.SessionSpec{AbsoluteTimeout: d("47m")}
	tenant.Spec.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyClamp, MaxIDTokenLifetime: d("30m")}
	orders := validAPI(ns)
	orders.Spec.TokenLifetime = d("3h")
	billing := validAPI(ns)
	billing.Name, billing.Spec.Audience = "billing", "https://billing.acme.example"
	billing.Spec.Scopes = []v1alpha1.APIScope{{Name: "invoices:read"}}
	billing.Spec.TokenLifetime = d("20m")
	app := validApp(ns, v1alpha1.RegularWeb)
	app.Spec.IDTokenLifetime = d("2h") // above the policy's 30m: clamped
	app.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders"}, {Name: "billing"}}
	create(t, tenant, orders, billing, app)
	for _, o := range []client.Object{tenant, orders, billing, app} {
		expectReady(t, o)
	}

	lifetimeKeys := []string{"kind", "name", "tenant", "token", "api", "flow"}
	eventually(t, func(g Gomega) {
		want := lifetimesInStatus(g, tenant, []*v1alpha1.API{orders, billing}, []*v1alpha1.Application{app})
		g.Expect(series(g, "idtenant_effective_lifetime_seconds", ns, lifetimeKeys...)).To(Equal(want))
		// The session cap and the clamp, as a user reading them would.
		g.Expect(want).To(HaveKeyWithValue(fmt.Sprintf("Application/shopfront/%s/acme/access/%s/orders/Standard", ns, ns), float64(47*60)), "3h capped by the 47m session")
		g.Expect(want).To(HaveKeyWithValue(fmt.Sprintf("Application/shopfront/%s/acme/id//", ns), float64(30*60)), "2h clamped to the policy's 30m")
		g.Expect(series(g, "idtenant_lifetime_clamps", ns, "kind", "name")).To(HaveKeyWithValue("Application/shopfront", float64(1)))
		g.Expect(series(g, "idtenant_lifetime_clamps", ns, "kind", "name")).To(HaveKeyWithValue("API/orders", float64(0)))

		must := func(obj client.Object) {
			g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		}
		must(tenant)
		is := tenant.Status.Issuer
		g.Expect(is).NotTo(BeNil())
		g.Expect(series(g, "idtenant_issuer_replicas", ns, "tenant", "state")).To(Equal(map[string]float64{
			"acme/desired": float64(tenant.Status.Effective.Replicas), "acme/live": float64(is.LiveReplicas), "acme/synced": float64(is.SyncedReplicas)}))
		g.Expect(series(g, "idtenant_issuer_config_generation", ns, "tenant", "state")).To(Equal(map[string]float64{
			"acme/rendered": float64(is.ConfigGeneration), "acme/served": float64(is.ServedGeneration)}))
	})

	// billing leaves spec.apis: its rows leave the Application's metrics.
	update(t, app, func(a *v1alpha1.Application) { a.Spec.APIs = a.Spec.APIs[:1] })
	eventually(t, func(g Gomega) {
		g.Expect(series(g, "idtenant_effective_lifetime_seconds", ns, "kind", "name", "api")).NotTo(HaveKey("Application/shopfront/" + ns + "/billing"))
		want := lifetimesInStatus(g, tenant, []*v1alpha1.API{orders, billing}, []*v1alpha1.Application{app})
		g.Expect(series(g, "idtenant_effective_lifetime_seconds", ns, lifetimeKeys...)).To(Equal(want))
	})

	// A deleted Application leaves no series behind.
	g := NewWithT(t)
	g.Expect(k8s.Delete(context.Background(), app)).To(Succeed())
	eventually(t, func(g Gomega) {
		for key := range series(g, "idtenant_effective_lifetime_seconds", ns, "kind", "name") {
			g.Expect(key).NotTo(HavePrefix("Application/"))
		}
		g.Expect(series(g, "idtenant_lifetime_clamps", ns, "kind", "name")).NotTo(HaveKey("Application/shopfront"))
	})
}
