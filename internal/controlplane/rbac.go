package controlplane

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/idtenant/idtenant/config"
)

// ManagerNamespace and ManagerServiceAccount are where config/default
// installs the manager.
const (
	ManagerNamespace      = "idtenant-system"
	ManagerServiceAccount = "idtenant-manager"
)

// ManagerConfig installs the manager's ServiceAccount with exactly the RBAC
// of config/rbac and returns a config that authenticates as it. Running the
// manager with it in tests and `dev` proves the generated ClusterRoles are
// enough: a missing permission fails there, not in a user's cluster.
func (c *ControlPlane) ManagerConfig(ctx context.Context, admin client.Client) (*rest.Config, error) {
	return c.ManagerConfigFor(ctx, admin, nil)
}

// ManagerConfigFor is ManagerConfig for a manager run with
// --tenant-namespaces: ClusterRole idtenant-manager-tenants is bound in
// tenantNamespaces only (config/tenant-namespaces), or cluster-wide when
// there are none (config/rbac).
func (c *ControlPlane) ManagerConfigFor(ctx context.Context, admin client.Client, tenantNamespaces []string) (*rest.Config, error) {
	for _, role := range [][]byte{config.ManagerRole, config.ManagerTenantsRole, config.MetricsAuthRole, config.MetricsReaderRole, config.UserRoles} {
		if _, err := Apply(ctx, admin, role); err != nil {
			return nil, fmt.Errorf("installing the manager ClusterRoles: %w", err)
		}
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ManagerServiceAccount, Namespace: ManagerNamespace}}
	tenantsRole := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "idtenant-manager-tenants"}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ManagerNamespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ManagerServiceAccount, Namespace: ManagerNamespace}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "idtenant-manager"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "idtenant-manager"},
			Subjects:   subjects,
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "idtenant-metrics-auth"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "idtenant-metrics-auth"},
			Subjects:   subjects,
		},
	}
	if len(tenantNamespaces) == 0 {
		objs = append(objs, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "idtenant-manager-tenants"}, RoleRef: tenantsRole, Subjects: subjects})
	}
	for _, ns := range tenantNamespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "idtenant-manager-tenants", Namespace: ns}, RoleRef: tenantsRole, Subjects: subjects})
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); client.IgnoreAlreadyExists(err) != nil {
			return nil, fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	// A client certificate naming the ServiceAccount's user and groups:
	// RBAC sees exactly what it sees for the ServiceAccount's token in a
	// cluster. (Impersonation would too, but costs the API server four
	// more authorisation checks per request, a tenth of its CPU when
	// thousands of Applications are imported.)
	user, err := c.env.ControlPlane.AddUser(envtest.User{
		Name:   "system:serviceaccount:" + ManagerNamespace + ":" + ManagerServiceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ManagerNamespace},
	}, c.Config)
	if err != nil {
		return nil, fmt.Errorf("creating the manager's client certificate: %w", err)
	}
	return user.Config(), nil
}
