package serving

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func TestTenantAdmits(t *testing.T) {
	tenant := func(a *v1alpha1.AllowedNamespaces) *v1alpha1.Tenant {
		return &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"}, Spec: v1alpha1.TenantSpec{AllowedNamespaces: a}}
	}
	sel := &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSelector,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}}
	cases := []struct {
		name   string
		tenant *v1alpha1.Tenant
		ns     string
		labels map[string]string
		want   bool
	}{
		{"default admits own namespace", tenant(nil), "id", nil, true},
		{"default refuses others", tenant(nil), "shop", nil, false},
		{"Same refuses others", tenant(&v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSame}), "shop", nil, false},
		{"All admits others", tenant(&v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}), "shop", nil, true},
		{"Selector admits matching", tenant(sel), "shop", map[string]string{"team": "shop"}, true},
		{"Selector refuses non-matching", tenant(sel), "shop", map[string]string{"team": "ads"}, false},
		{"Selector always admits own namespace", tenant(sel), "id", nil, true},
	}
	for _, c := range cases {
		got, err := tenantAdmits(c.tenant, c.ns, c.labels)
		if err != nil || got != c.want {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
