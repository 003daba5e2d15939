package e2e

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2/clientcredentials"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestTrustBetweenNamespaces (issue 9, items 1 and 2) runs the two attacks
// an admitted namespace could make on another's API against the real
// issuer with an unmodified OAuth client:
//
//   - shop's machine-to-machine client lists payments' billing API: without
//     payments' consent its token request for billing's audience fails with
//     invalid_target (the rest of the client works); with consent it gets
//     the token;
//   - while billing is deleted and recreated, an API shop declares with
//     billing's audience never makes the issuer mint tokens for that
//     audience to shop's client.
func TestTrustBetweenNamespaces(t *testing.T) {
	ctx := context.Background()
	tenantNS, issuer := newTenant(t, func(s *v1alpha1.TenantSpec) {
		s.AllowedNamespaces = &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}
	})
	payments, shop := tenantNS+"-payments", tenantNS+"-shop"
	for _, ns := range []string{payments, shop} {
		must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	ref := v1alpha1.TenantReference{Name: "acme", Namespace: tenantNS}
	billingAudience := "https://billing.acme.test/" + tenantNS
	billing := func() *v1alpha1.API {
		return &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: payments},
			Spec: v1alpha1.APISpec{TenantRef: ref, Audience: billingAudience, Scopes: []v1alpha1.APIScope{{Name: "invoices:write"}}}}
	}
	bills := billing()
	orders := &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: shop},
		Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://orders.acme.test/" + tenantNS}}
	batch := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: shop},
		Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.MachineToMachine, APIs: []v1alpha1.APIAccess{
			{Name: "orders"}, {Name: "billing", Namespace: payments, Scopes: []v1alpha1.ScopeName{"invoices:write"}}}}}
	for _, o := range []client.Object{bills, orders, batch} {
		must(t, k8s.Create(ctx, o))
	}

	var provider *oidc.Provider
	eventually(t, func(g Gomega) {
		var err error
		provider, err = oidc.NewProvider(ctx, issuer)
		g.Expect(err).NotTo(HaveOccurred())
	})
	token := func(g Gomega, audience string) (string, error) {
		id, secret := clientSecret(t, shop, "batch")
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: provider.Endpoint().TokenURL,
			EndpointParams: url.Values{"audience": {audience}}}
		tok, err := cc.Token(ctx)
		if err != nil {
			return "", err
		}
		return tok.AccessToken, nil
	}

	// No consent: the client is served for orders, not for billing.
	eventually(t, func(g Gomega) {
		_, err := token(g, orders.Spec.Audience)
		g.Expect(err).NotTo(HaveOccurred(), "the client is served for the API of its own namespace")
	})
	_, err := token(NewWithT(t), billingAudience)
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("invalid_target")), "no token for an API without its owner's consent")
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(batch), batch)).To(Succeed())
		c := meta.FindStatusCondition(batch.Status.Conditions, v1alpha1.ConditionAPIsResolved)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonAPINotShared))
		g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("API %s/billing does not allow Applications from namespace %q", payments, shop)))
	})

	// payments consents to shop: the token comes.
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(bills), bills)).To(Succeed())
		bills.Spec.AllowedApplications = &v1alpha1.AllowedApplications{Namespaces: v1alpha1.ApplicationNamespaces{
			From: v1alpha1.ApplicationsFromNames, Names: []string{shop}}}
		g.Expect(k8s.Update(ctx, bills)).To(Succeed())
	})
	waitReady(t, bills, batch)
	access, err := token(NewWithT(t), billingAudience)
	must(t, err)
	NewWithT(t).Expect(claims(t, access)["aud"]).To(Equal(billingAudience))

	// The prune: billing goes; shop declares its own API with billing's
	// audience, consenting to itself, and lists it instead.
	must(t, k8s.Delete(ctx, bills))
	eventually(t, func(g Gomega) {
		_, err := token(g, billingAudience)
		g.Expect(err).To(HaveOccurred(), "the issuer no longer serves the deleted API")
	})
	squat := billing()
	squat.Namespace, squat.Name = shop, "squat"
	must(t, k8s.Create(ctx, squat))
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(batch), batch)).To(Succeed())
		batch.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders"}, {Name: "squat", Scopes: []v1alpha1.ScopeName{"invoices:write"}}}
		g.Expect(k8s.Update(ctx, batch)).To(Succeed())
	})
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(squat), squat)).To(Succeed())
		c := meta.FindStatusCondition(squat.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonAudienceConflict))
		g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("belongs to namespace %q", payments)))
	})
	// Long enough for the issuer to have served the change had it been
	// accepted: the token for billing's audience never comes. (An
	// Application listing an API that is not served is itself not served
	// until it drops it, so the refusal is invalid_client.)
	NewWithT(t).Consistently(func(g Gomega) {
		_, err := token(g, billingAudience)
		g.Expect(err).To(MatchError(Or(ContainSubstring("invalid_target"), ContainSubstring("invalid_client"))))
	}).WithTimeout(5 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

	// billing comes back and gets its audience back.
	bills = billing()
	bills.Spec.AllowedApplications = &v1alpha1.AllowedApplications{Namespaces: v1alpha1.ApplicationNamespaces{
		From: v1alpha1.ApplicationsFromNames, Names: []string{shop}}}
	must(t, k8s.Create(ctx, bills))
	waitReady(t, bills)
}
