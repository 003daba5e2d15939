package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// gone waits until obj no longer exists.
func gone(g Gomega, obj client.Object) {
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s still exists (%v)", obj, client.ObjectKeyFromObject(obj), err)
}

// TestDeletingATenantCleansUp: `kubectl delete tenant` removes, through
// owner references and the garbage collector, everything the Tenant's
// issuer was made of, and the issuer stops answering.
func TestDeletingATenantCleansUp(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	issuer := issuerconfig.IssuerName("acme")
	children := []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: issuer}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: issuer}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: issuer}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: issuer}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: issuer}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: issuerconfig.SecretName("acme")}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: issuerconfig.LeaseName("acme", 0)}},
	}
	for _, c := range children {
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(c), c))
	}
	g := NewWithT(t)
	g.Expect(kubelet.Replicas(s.ns, issuer)).NotTo(BeEmpty())

	must(t, k8s.Delete(ctx, &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "acme"}}))
	NewWithT(t).Eventually(func(g Gomega) {
		for _, c := range children {
			gone(g, c)
		}
		g.Expect(kubelet.Replicas(s.ns, issuer)).To(BeEmpty(), "the issuer process is stopped")
	}).WithTimeout(60 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
	if resp, err := http.Get(s.issuer + "/.well-known/openid-configuration"); err == nil {
		resp.Body.Close()
		t.Errorf("the deleted Tenant's issuer still answers at %s: HTTP %d", s.issuer, resp.StatusCode)
	}
	// The Applications stay (they are not the Tenant's) and say why they
	// cannot be served; their credentials Secrets stay with them.
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(s.web), s.web)).To(Succeed())
		c := meta.FindStatusCondition(s.web.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonTenantNotFound))
	})
}

// TestDeletingANamespaceFinishes: a namespace holding a Tenant, its APIs,
// Applications, issuer and state is deleted completely: the namespace
// controller empties it and nothing idtenant owns holds it in Terminating.
func TestDeletingANamespaceFinishes(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.ns}}
	must(t, k8s.Delete(ctx, ns))
	NewWithT(t).Eventually(func(g Gomega) {
		gone(g, ns)
	}).WithTimeout(90 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
	NewWithT(t).Eventually(func() any { return kubelet.Replicas(s.ns, issuerconfig.IssuerName("acme")) }).
		WithTimeout(30*time.Second).Should(BeEmpty(), "the issuer process is stopped")
}
