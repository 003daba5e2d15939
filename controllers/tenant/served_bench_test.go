package tenant

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
)

// BenchmarkGatherServed measures the Tenant reconciler's pass over all of
// a tenant's Applications (the part of a reconcile that grows with them),
// against a client that deep-copies on every read, as the manager's cache
// does. 1000 Applications, each listing 5 of the tenant's 50 APIs.
func BenchmarkGatherServed(b *testing.B) {
	const apps, apis, perApp = 1000, 50, 5
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "shop"},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example"}}
	objs := []client.Object{tenant}
	ref := v1alpha1.TenantReference{Name: "acme"}
	for i := 0; i < apis; i++ {
		objs = append(objs, &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("api-%d", i), Namespace: "shop"},
			Spec: v1alpha1.APISpec{TenantRef: ref, Audience: fmt.Sprintf("https://api-%d.acme.example", i),
				Scopes: []v1alpha1.APIScope{{Name: "read"}}}})
	}
	for i := 0; i < apps; i++ {
		app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Namespace: "shop"},
			Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.SinglePage,
				RedirectURIs: []v1alpha1.RedirectURI{"https://app.acme.example/cb"}}}
		for j := 0; j < perApp; j++ {
			app.Spec.APIs = append(app.Spec.APIs, v1alpha1.APIAccess{Name: fmt.Sprintf("api-%d", (i+j)%apis), Scopes: []v1alpha1.ScopeName{"read"}})
		}
		objs = append(objs, app)
	}
	byTenant := func(o client.Object) []string {
		switch x := o.(type) {
		case *v1alpha1.Application:
			return []string{serving.TenantKey(x.Spec.TenantRef, x.Namespace).String()}
		case *v1alpha1.API:
			return []string{serving.TenantKey(x.Spec.TenantRef, x.Namespace).String()}
		}
		return nil
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&v1alpha1.Application{}, serving.IndexTenant, byTenant).WithIndex(&v1alpha1.API{}, serving.IndexTenant, byTenant).Build()
	r := &TenantReconciler{Client: c}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		obs := tenantObservation{}
		if err := r.gatherServed(ctx, tenant, &obs); err != nil {
			b.Fatal(err)
		}
		if len(obs.served.apps) != apps {
			b.Fatalf("served %d Applications, want %d", len(obs.served.apps), apps)
		}
	}
}
