package e2e

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/manager"
	"github.com/idtenant/idtenant/internal/controlplane"
)

// TestTeamRolesReachIdtenantObjects: a team member holding only Kubernetes'
// built-in `edit` role in a namespace can declare Applications and APIs
// there and read Tenants, but not create Tenants or read anything outside
// the namespace; `view` reads and writes nothing. kube-controller-manager's
// clusterrole-aggregation controller merges config/rbac/aggregate_roles.yaml
// into the built-in roles, as in a cluster.
func TestTeamRolesReachIdtenantObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := controlplane.UniqueNamespace("team-")
	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	for user, role := range map[string]string{"dana": "edit", "vic": "view"} {
		must(t, k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}))
	}
	as := func(user string) client.Client {
		cfg := rest.CopyConfig(k8sConfig)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		c, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
		must(t, err)
		return c
	}
	dana, vic := as("dana"), as("vic")
	ref := v1alpha1.TenantReference{Name: "acme", Namespace: "identity"}
	api := func(name string) *v1alpha1.API {
		return &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://" + name + "." + ns + ".example"}}
	}
	app := func(name string) *v1alpha1.Application {
		return &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.MachineToMachine}}
	}

	// edit: Applications and APIs, once aggregation has reached the role.
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(dana.Create(ctx, api("orders"))).To(Succeed())
	}).WithTimeout(time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())
	g := NewWithT(t)
	g.Expect(dana.Create(ctx, app("invoicer"))).To(Succeed())
	var apps v1alpha1.ApplicationList
	g.Expect(dana.List(ctx, &apps, client.InNamespace(ns))).To(Succeed())
	g.Expect(apps.Items).To(HaveLen(1))
	g.Expect(dana.Delete(ctx, app("invoicer"))).To(Succeed())
	var tenants v1alpha1.TenantList
	g.Expect(dana.List(ctx, &tenants, client.InNamespace(ns))).To(Succeed(), "edit reads Tenants")
	forbidden := func(err error, what string) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", what, err)
		}
	}
	forbidden(dana.Create(ctx, &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: ns},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id." + ns + ".example"}}), "edit creates a Tenant")
	forbidden(dana.Get(ctx, client.ObjectKey{Namespace: controlplane.ManagerNamespace, Name: "anything"}, &corev1.Secret{}),
		"edit reads a Secret in the operator's namespace")
	forbidden(dana.Create(ctx, &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: controlplane.ManagerNamespace},
		Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://elsewhere.example"}}), "edit creates an API outside its namespace")

	// view: reads, writes nothing.
	var apis v1alpha1.APIList
	g.Expect(vic.List(ctx, &apis, client.InNamespace(ns))).To(Succeed())
	g.Expect(apis.Items).To(HaveLen(1))
	g.Expect(vic.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orders"}, &v1alpha1.API{})).To(Succeed())
	forbidden(vic.Create(ctx, app("reader")), "view creates an Application")
	forbidden(vic.Delete(ctx, api("orders")), "view deletes an API")
}
