package controllers_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// served returns the spec.apis entries ("<namespace>/<name>") the issuer
// configuration holds for the Application clientID, and whether it holds
// that Application at all.
func served(g Gomega, ns, clientID string) ([]string, bool) {
	doc := readConfig(g, ns, "acme")
	for _, a := range doc.Applications {
		if a.ClientID != clientID {
			continue
		}
		var out []string
		for _, ref := range a.Spec.APIs {
			refNS := ref.Namespace
			if refNS == "" {
				refNS = a.Namespace
			}
			out = append(out, refNS+"/"+ref.Name)
		}
		return out, true
	}
	return nil, false
}

func servedAPIs(g Gomega, ns string) []string {
	var out []string
	for _, a := range readConfig(g, ns, "acme").APIs {
		out = append(out, a.Ref())
	}
	return out
}

// crossNamespaceTenant is a Tenant in its own namespace that admits every
// namespace, with an API in "payments" and an Application in "shop".
func crossNamespaceTenant(t *testing.T) (id, payments, shop string) {
	id, payments, shop = newNamespace(t, nil), newNamespace(t, nil), newNamespace(t, map[string]string{"team": "shop"})
	tenant := validTenant(id)
	tenant.Spec.AllowedNamespaces = &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}
	create(t, tenant)
	return id, payments, shop
}

func billingAPI(ns, tenantNS string) *v1alpha1.API {
	return &v1alpha1.API{
		ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: ns},
		Spec: v1alpha1.APISpec{
			TenantRef: v1alpha1.TenantReference{Name: "acme", Namespace: tenantNS},
			Audience:  "https://billing.acme.example/" + tenantNS,
			Scopes:    []v1alpha1.APIScope{{Name: "invoices:read"}, {Name: "invoices:write"}},
		},
	}
}

// TestAPIConsent (issue 9, item 1): an Application in another namespace
// gets tokens for an API only with the API owner's consent. Without it the
// Application says which API and what to add, the issuer is configured
// without that pair (its other APIs still served), and the API lists it as
// denied; consent by name or by namespace label lets it in, and taking
// consent back takes it out again.
func TestAPIConsent(t *testing.T) {
	ctx := context.Background()
	id, payments, shop := crossNamespaceTenant(t)
	billing := billingAPI(payments, id)
	orders := validAPI(shop)
	orders.Spec.TenantRef.Namespace = id
	orders.Spec.Audience = "https://orders.acme.example/" + id
	app := validApp(shop, v1alpha1.MachineToMachine)
	app.Spec.TenantRef.Namespace = id
	app.Spec.APIs = []v1alpha1.APIAccess{
		{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}},
		{Name: "billing", Namespace: payments, Scopes: []v1alpha1.ScopeName{"invoices:write"}},
	}
	create(t, billing, orders, app)
	clientID := "shopfront." + shop
	appRef := shop + "/shopfront"

	// No consent: the default is the API's own namespace only.
	var msg string
	eventually(t, func(g Gomega) {
		c := condition(g, app, v1alpha1.ConditionAPIsResolved)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonAPINotShared))
		msg = c.Message
		g.Expect(kstatusOf(g, app)).To(Equal(status.FailedStatus), "only the API owner can fix it: Stalled")
	})
	g := NewWithT(t)
	g.Expect(msg).To(ContainSubstring("spec.apis[1]: API " + payments + "/billing does not allow Applications from namespace \"" + shop + "\""))
	g.Expect(msg).To(ContainSubstring("spec.allowedApplications.namespaces {from: Names, names: [" + shop + "]}"))
	g.Expect(msg).To(ContainSubstring("invalid_target"))
	eventually(t, func(g Gomega) {
		apis, ok := served(g, id, clientID)
		g.Expect(ok).To(BeTrue(), "the Application is still served for what it may use")
		g.Expect(apis).To(Equal([]string{shop + "/orders"}), "the pair without consent is left out")
		g.Expect(servedAPIs(g, id)).To(ContainElement(payments+"/billing"), "the API itself is served")
	})
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(billing), billing)).To(Succeed())
		g.Expect(billing.Status.Applications).To(BeEmpty())
		g.Expect(billing.Status.DeniedApplications).To(Equal([]string{appRef}), "the owner sees who asks")
	})
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		g.Expect(app.Status.Effective).NotTo(BeNil(), "status shows what the issuer does serve")
		g.Expect(app.Status.Effective.AccessTokens).To(HaveLen(1))
		g.Expect(app.Status.Effective.AccessTokens[0].API).To(Equal(shop + "/orders"))
	})

	// Consent by name.
	update(t, billing, func(a *v1alpha1.API) {
		a.Spec.AllowedApplications = &v1alpha1.AllowedApplications{Namespaces: v1alpha1.ApplicationNamespaces{
			From: v1alpha1.ApplicationsFromNames, Names: []string{shop}}}
	})
	expectReady(t, app)
	eventually(t, func(g Gomega) {
		apis, _ := served(g, id, clientID)
		g.Expect(apis).To(Equal([]string{shop + "/orders", payments + "/billing"}))
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(billing), billing)).To(Succeed())
		g.Expect(billing.Status.Applications).To(Equal([]string{appRef}))
		g.Expect(billing.Status.DeniedApplications).To(BeEmpty())
	})

	// Consent by label, then the label goes: consent goes with it.
	update(t, billing, func(a *v1alpha1.API) {
		a.Spec.AllowedApplications.Namespaces = v1alpha1.ApplicationNamespaces{From: v1alpha1.ApplicationsFromSelector,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}}
	})
	expectReady(t, app)
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shop}}
	update(t, nsObj, func(n *corev1.Namespace) { delete(n.Labels, "team") })
	expectNotReady(t, app, v1alpha1.ReasonAPINotShared)
	eventually(t, func(g Gomega) {
		apis, _ := served(g, id, clientID)
		g.Expect(apis).To(Equal([]string{shop + "/orders"}))
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(billing), billing)).To(Succeed())
		g.Expect(billing.Status.DeniedApplications).To(Equal([]string{appRef}))
	})
}

// TestAPIConsentInvalidSpec: consent fields are checked at apply time.
func TestAPIConsentInvalidSpec(t *testing.T) {
	ns := newNamespace(t, nil)
	for _, c := range []struct {
		name string
		ns   v1alpha1.ApplicationNamespaces
		want string
	}{
		{"names without from Names", v1alpha1.ApplicationNamespaces{From: v1alpha1.ApplicationsFromAll, Names: []string{"shop"}},
			"spec.allowedApplications.namespaces.names must list at least one namespace when from is Names, and only then"},
		{"from Names without names", v1alpha1.ApplicationNamespaces{From: v1alpha1.ApplicationsFromNames},
			"spec.allowedApplications.namespaces.names must list at least one namespace when from is Names"},
		{"from Selector without selector", v1alpha1.ApplicationNamespaces{From: v1alpha1.ApplicationsFromSelector},
			"spec.allowedApplications.namespaces.selector must be set when from is Selector"},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := validAPI(ns)
			api.Spec.AllowedApplications = &v1alpha1.AllowedApplications{Namespaces: c.ns}
			err := k8s.Create(context.Background(), api)
			NewWithT(t).Expect(err).To(MatchError(ContainSubstring(c.want)))
		})
	}
}

// TestAudienceSquatting (issue 9, item 2): an audience belongs to the
// namespace that first used it. While its API is deleted and recreated (a
// GitOps prune), an API in another namespace cannot take it, and the
// recreated API gets it back; only a Tenant rule hands it over.
func TestAudienceSquatting(t *testing.T) {
	ctx := context.Background()
	id, payments, shop := crossNamespaceTenant(t)
	billing := billingAPI(payments, id)
	create(t, billing)
	expectReady(t, billing)
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: id}}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		g.Expect(tenant.Status.AudienceClaims).To(HaveLen(1))
		c := tenant.Status.AudienceClaims[0]
		g.Expect([]string{c.Audience, c.Namespace, c.API}).To(Equal([]string{billing.Spec.Audience, payments, "billing"}))
	})

	// The prune: billing goes, a squatter in shop takes its audience.
	g := NewWithT(t)
	g.Expect(k8s.Delete(ctx, billing)).To(Succeed())
	squat := billingAPI(shop, id)
	squat.Name = "squat"
	create(t, squat)
	msg := expectNotReady(t, squat, v1alpha1.ReasonAudienceConflict)
	g.Expect(msg).To(ContainSubstring(`spec.audience "` + billing.Spec.Audience + `" belongs to namespace "` + payments + `"`))
	g.Expect(msg).To(ContainSubstring("only Tenant " + id + "/acme can hand it to namespace \"" + shop + "\""))
	eventually(t, func(g Gomega) { g.Expect(kstatusOf(g, squat)).To(Equal(status.FailedStatus)) })
	eventually(t, func(g Gomega) {
		g.Expect(servedAPIs(g, id)).To(BeEmpty(), "the squatter is never served")
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		g.Expect(tenant.Status.AudienceClaims).To(HaveLen(1))
		g.Expect(tenant.Status.AudienceClaims[0].Namespace).To(Equal(payments))
		g.Expect(tenant.Status.AudienceClaims[0].UnusedSince).NotTo(BeNil())
	})

	// The recreated API gets its audience back, though the squatter is older.
	billing = billingAPI(payments, id)
	create(t, billing)
	expectReady(t, billing)
	msg = expectNotReady(t, squat, v1alpha1.ReasonAudienceConflict)
	g.Expect(msg).To(ContainSubstring("is already used by API " + payments + "/billing"))
	eventually(t, func(g Gomega) { g.Expect(servedAPIs(g, id)).To(Equal([]string{payments + "/billing"})) })

	// The Tenant's decision hands the audience over.
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Audiences = []v1alpha1.AudienceRule{{Prefix: "https://billing.acme.example/", Namespaces: []string{shop}}}
	})
	msg = expectNotReady(t, billing, v1alpha1.ReasonAudienceNotAllowed)
	g.Expect(msg).To(ContainSubstring(`reserves audiences starting with "https://billing.acme.example/" for namespace ` + shop))
	expectReady(t, squat)
	eventually(t, func(g Gomega) {
		g.Expect(servedAPIs(g, id)).To(Equal([]string{shop + "/squat"}))
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		g.Expect(tenant.Status.AudienceClaims).To(HaveLen(1))
		g.Expect(tenant.Status.AudienceClaims[0].Namespace).To(Equal(shop))
	})
}

// TestIssuerURLConflict (issue 9, item 6): of two Tenants with one issuer
// URL (spelled differently), the second is Stalled with IssuerURLConflict
// and gets no issuer configuration; it takes over once the first is gone.
func TestIssuerURLConflict(t *testing.T) {
	ctx := context.Background()
	first, second := validTenant(newNamespace(t, nil)), validTenant(newNamespace(t, nil))
	url := "https://login.acme.example/" + first.Namespace
	first.Spec.IssuerURL = url
	second.Spec.IssuerURL = "HTTPS://Login.ACME.example:443/" + first.Namespace + "/"
	create(t, first)
	eventually(t, func(g Gomega) { g.Expect(readConfig(g, first.Namespace, "acme").Tenant.Spec.IssuerURL).To(Equal(url)) })
	// Creation times have a resolution of one second (ties go by name).
	time.Sleep(time.Until(first.CreationTimestamp.Add(1100 * time.Millisecond)))
	create(t, second)
	msg := expectNotReady(t, second, v1alpha1.ReasonIssuerURLConflict)
	g := NewWithT(t)
	g.Expect(msg).To(ContainSubstring("is already the issuer URL of Tenant " + first.Namespace + "/acme"))
	eventually(t, func(g Gomega) { g.Expect(kstatusOf(g, second)).To(Equal(status.FailedStatus)) })
	g.Consistently(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: second.Namespace, Name: "acme-issuer-config"}, &corev1.Secret{})
	}).WithTimeout(2*time.Second).Should(HaveOccurred(), "no configuration carries another Tenant's issuer URL")
	eventually(t, func(g Gomega) {
		g.Expect(condition(g, first, v1alpha1.ConditionReady).Reason).NotTo(Equal(v1alpha1.ReasonIssuerURLConflict), "the first keeps its URL")
	})

	g.Expect(k8s.Delete(ctx, first)).To(Succeed())
	eventually(t, func(g Gomega) {
		g.Expect(readConfig(g, second.Namespace, "acme").Tenant.Spec.IssuerURL).To(Equal(second.Spec.IssuerURL))
		g.Expect(condition(g, second, v1alpha1.ConditionReady).Reason).NotTo(Equal(v1alpha1.ReasonIssuerURLConflict))
	})
}

// TestWeakClientSecret (issue 9, item 6): a client secret written by hand
// into the credentials Secret must carry 256 bits; a weaker one is refused,
// with the reason and never the secret, and the issuer stops serving the
// client until a strong one is there.
func TestWeakClientSecret(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	app := validApp(ns, v1alpha1.MachineToMachine)
	create(t, validTenant(ns), app)
	expectReady(t, app)
	key := client.ObjectKey{Namespace: ns, Name: "shopfront-oidc-client"}
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	update(t, creds, func(s *corev1.Secret) { s.Data["client-secret"] = []byte("Winter2030!") })
	msg := expectNotReady(t, app, v1alpha1.ReasonWeakClientSecret)
	g := NewWithT(t)
	g.Expect(msg).To(ContainSubstring("Secret " + key.String() + " key client-secret: it carries at most about"))
	g.Expect(msg).To(ContainSubstring("at least 256 bits"))
	g.Expect(msg).NotTo(ContainSubstring("Winter2030"), "the secret never appears in status")
	eventually(t, func(g Gomega) { g.Expect(kstatusOf(g, app)).To(Equal(status.FailedStatus)) })
	eventually(t, func(g Gomega) {
		_, ok := served(g, ns, "shopfront."+ns)
		g.Expect(ok).To(BeFalse(), "a weak secret is never served")
	})

	// 32 random bytes, as the documentation says: served again.
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	strong := base64.StdEncoding.EncodeToString(b)
	update(t, creds, func(s *corev1.Secret) { s.Data["client-secret"] = []byte(strong) })
	expectReady(t, app)
	sum := sha256.Sum256([]byte(strong))
	eventually(t, func(g Gomega) {
		doc := readConfig(g, ns, "acme")
		i := slices.IndexFunc(doc.Applications, func(a issuerconfig.Application) bool { return a.ClientID == "shopfront."+ns })
		g.Expect(i).To(BeNumerically(">=", 0))
		g.Expect(doc.Applications[i].SecretSHA256).To(Equal(hex.EncodeToString(sum[:])))
	})

	// An emptied key is generated afresh, not served empty.
	update(t, creds, func(s *corev1.Secret) { delete(s.Data, "client-secret") })
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, key, creds)).To(Succeed())
		g.Expect(creds.Data["client-secret"]).To(HaveLen(43))
	})
	expectReady(t, app)
}
