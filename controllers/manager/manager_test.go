package manager_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/manager"
	"github.com/idtenant/idtenant/internal/controlplane"
)

// The manager runs as its ServiceAccount with config/tenant-namespaces'
// RBAC: the cluster-wide ClusterRole, and idtenant-manager-tenants bound in
// tenantNS only.
const tenantNS, elsewhere = "identity", "elsewhere"

var (
	admin       client.Client         // the control plane's administrator
	clientset   *kubernetes.Clientset // the same, for subresources
	metricsAddr string                // the manager's HTTPS metrics endpoint
	asMgr       client.Client         // the manager's identity, uncached
	running     ctrl.Manager
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	logTo := io.Discard
	if os.Getenv("IDTENANT_TEST_LOG") != "" {
		logTo = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logTo)))
	cp, err := controlplane.Start("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if admin, err = client.New(cp.Config, client.Options{Scheme: manager.NewScheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err := cp.ManagerConfigFor(ctx, admin, []string{tenantNS})
	if err == nil {
		err = admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: elsewhere}})
	}
	if err == nil {
		asMgr, err = client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	}
	if err == nil {
		metricsAddr, err = freeLoopbackAddr()
	}
	if err == nil {
		clientset, err = kubernetes.NewForConfig(cp.Config)
	}
	if err == nil {
		// Metrics as the Deployment serves them (main.go's defaults).
		running, err = manager.New(ctx, cfg, manager.Options{MetricsAddr: metricsAddr, MetricsSecure: true, HealthAddr: "0", TenantNamespaces: []string{tenantNS}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := running.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	code := m.Run()
	cancel()
	<-done
	return code
}

func eventually(t *testing.T, f func(g Gomega)) {
	t.Helper()
	NewWithT(t).Eventually(f).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// TestTenantNamespacesOnly (issue 9, item 7): with --tenant-namespaces the
// manager renders a Tenant's issuer (Deployment, Role, RoleBinding) in the
// namespaces listed, refuses Tenants elsewhere with NamespaceNotServed, and
// cannot create Roles or RoleBindings anywhere else, while Applications in
// other namespaces still get their credentials.
func TestTenantNamespacesOnly(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	served := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: tenantNS},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example", AllowedNamespaces: &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}}}
	refused := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "rogue", Namespace: elsewhere},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://rogue.acme.example"}}
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: elsewhere},
		Spec: v1alpha1.ApplicationSpec{TenantRef: v1alpha1.TenantReference{Name: "acme", Namespace: tenantNS}, Type: v1alpha1.MachineToMachine}}
	for _, o := range []client.Object{served, refused, app} {
		g.Expect(admin.Create(ctx, o)).To(Succeed())
	}

	eventually(t, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: "acme-issuer"}, &appsv1.Deployment{})).To(Succeed())
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: "acme-issuer"}, &rbacv1.Role{})).To(Succeed())
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: "acme-issuer"}, &rbacv1.RoleBinding{})).To(Succeed())
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(served), served)).To(Succeed())
		g.Expect(served.Status.Issuer).NotTo(BeNil())
		g.Expect(served.Status.Issuer.ConfigGeneration).To(BeNumerically(">", 0))
	})
	eventually(t, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(refused), refused)).To(Succeed())
		c := meta.FindStatusCondition(refused.Status.Conditions, v1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNamespaceNotServed))
		g.Expect(c.Message).To(ContainSubstring("serves Tenants only in namespaces " + tenantNS))
	})
	var secrets corev1.SecretList
	g.Expect(admin.List(ctx, &secrets, client.InNamespace(elsewhere), client.MatchingLabels{"idtenant.dev/tenant": "rogue"})).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty(), "nothing is rendered for a Tenant outside --tenant-namespaces")

	// Applications may live anywhere the Tenant admits.
	eventually(t, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: elsewhere, Name: "batch-oidc-client"}, &corev1.Secret{})).To(Succeed())
	})

	// What RBAC itself enforces, whatever the manager's code does.
	role := func(ns string) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}}}}
	}
	err := asMgr.Create(ctx, role(elsewhere))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the manager may not create Roles outside Tenant namespaces: %v", err)
	err = asMgr.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: elsewhere},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: elsewhere}}})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "nor RoleBindings: %v", err)
	g.Expect(asMgr.Create(ctx, role(tenantNS))).To(Succeed(), "in a Tenant namespace it may")
}

// TestCacheHoldsOnlyManagedSecrets (issue 9, item 7): the manager may read
// Secrets everywhere, but its informer cache holds only those idtenant
// created (labelled app.kubernetes.io/managed-by=idtenant), never every
// Secret of the cluster.
func TestCacheHoldsOnlyManagedSecrets(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "database-password", Namespace: elsewhere},
		StringData: map[string]string{"password": "not for idtenant"}}
	ours := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "managed", Namespace: elsewhere,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "idtenant"}}}
	g.Expect(admin.Create(ctx, theirs)).To(Succeed())
	g.Expect(admin.Create(ctx, ours)).To(Succeed())
	cache := running.GetCache()
	eventually(t, func(g Gomega) {
		g.Expect(cache.Get(ctx, client.ObjectKeyFromObject(ours), &corev1.Secret{})).To(Succeed())
	})
	err := cache.Get(ctx, client.ObjectKeyFromObject(theirs), &corev1.Secret{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "an unlabelled Secret is not cached: %v", err)
	var all corev1.SecretList
	g.Expect(cache.List(ctx, &all)).To(Succeed())
	for _, s := range all.Items {
		g.Expect(s.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "idtenant"), "cached Secret %s/%s", s.Namespace, s.Name)
	}
}
