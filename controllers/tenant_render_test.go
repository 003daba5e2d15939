package controllers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/render"
)

// readConfig reads the issuer configuration the operator rendered.
func readConfig(g Gomega, ns, tenant string) *issuerconfig.Document {
	ctx := context.Background()
	primary := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: issuerconfig.SecretName(tenant)}, primary)).To(Succeed())
	doc, err := issuerconfig.ReadSecrets(primary, func(name string) (*corev1.Secret, error) {
		s := &corev1.Secret{}
		return s, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)
	})
	g.Expect(err).NotTo(HaveOccurred())
	return doc
}

// TestTenantRendersIssuer checks what the Tenant reconciler owns: the
// configuration the issuer will load, the signing keys, and the issuer
// workload with least-privilege RBAC.
func TestTenantRendersIssuer(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	api := validAPI(ns)
	api.Spec.SigningAlgorithm = v1alpha1.ES256
	web := validApp(ns, v1alpha1.RegularWeb)
	web.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}
	refused := validApp(ns, v1alpha1.SinglePage)
	refused.Name = "refused"
	refused.Spec.APIs = []v1alpha1.APIAccess{{Name: "missing"}}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: ns},
		StringData: map[string]string{"htpasswd": "alice@acme.test:$2a$10$1Uhiau72Caah0gSrQWrNmO.8dvcKXOZNH3Fq9lROb4S26Z08V2RVy\n"}})
	tenant.Spec.UsersSecretRef = &v1alpha1.LocalSecretReference{Name: "users"}
	create(t, tenant, api, web, refused)
	expectReady(t, web)

	var doc *issuerconfig.Document
	eventually(t, func(g Gomega) {
		doc = readConfig(g, ns, "acme")
		g.Expect(doc.Applications).To(HaveLen(1), "only resolved Applications are served")
		g.Expect(doc.APIs).To(HaveLen(1))
	})
	g := NewWithT(t)
	g.Expect(doc.Applications[0].ClientID).To(Equal("shopfront." + ns))
	creds := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shopfront-oidc-client"}, creds)).To(Succeed())
	sum := sha256.Sum256(creds.Data["client-secret"])
	g.Expect(doc.Applications[0].SecretSHA256).To(Equal(hex.EncodeToString(sum[:])), "the issuer gets the digest, not the secret")
	g.Expect(doc.Users).To(Equal([]issuerconfig.User{{ID: render.DerivedUserID("alice@acme.test"), Username: "alice@acme.test",
		PasswordHash: "$2a$10$1Uhiau72Caah0gSrQWrNmO.8dvcKXOZNH3Fq9lROb4S26Z08V2RVy"}}), "the subject is an opaque id, never the username")
	var active []string
	for _, k := range doc.Keys {
		if k.Role == issuerconfig.KeyActive {
			active = append(active, string(k.Algorithm))
		}
	}
	g.Expect(active).To(ConsistOf("RS256", "ES256"), "one active key per algorithm in use")

	// Status names the keys but never carries key material.
	tn := &v1alpha1.Tenant{}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
		g.Expect(tn.Status.Issuer).NotTo(BeNil())
		g.Expect(tn.Status.Issuer.Keys).To(HaveLen(2))
	})
	raw, _ := json.Marshal(tn.Status)
	g.Expect(string(raw)).NotTo(ContainSubstring("PRIVATE KEY"))
	g.Expect(string(raw)).NotTo(ContainSubstring("$2a$"))
	generation := doc.Generation
	g.Expect(generation).To(BeNumerically(">=", 1))

	// The workload: a Deployment without the config in its template, and a
	// Role that names exactly the Secrets and Leases the issuer may touch.
	dep := &appsv1.Deployment{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
	g.Expect(dep.Spec.Template.Spec.Containers[0].Image).To(Equal("idtenant:latest"))
	g.Expect(metav1.IsControlledBy(dep, tn)).To(BeTrue())
	role := &rbacv1.Role{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, role)).To(Succeed())
	g.Expect(role.Rules[0].ResourceNames).To(Equal([]string{"acme-issuer-config"}))
	g.Expect(role.Rules[0].ResourceNames).NotTo(ContainElement("acme-signing-keys"), "keys reach the issuer inside its config only")
	for _, slot := range []string{"acme-issuer-0", "acme-issuer-1"} {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: slot}, &coordinationv1.Lease{})).To(Succeed())
	}

	// A change that does not alter the configuration keeps the generation;
	// one that does bumps it by one.
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Labels = map[string]string{"team": "identity"} })
	update(t, api, func(a *v1alpha1.API) { a.Spec.TokenLifetime = d("45m") })
	eventually(t, func(g Gomega) {
		doc := readConfig(g, ns, "acme")
		g.Expect(doc.APIs[0].Spec.TokenLifetime).NotTo(BeNil())
		g.Expect(doc.APIs[0].Spec.TokenLifetime.Duration.String()).To(Equal("45m0s"))
		g.Expect(doc.Generation).To(Equal(generation + 1))
	})

	// Drift is repaired: a deleted Deployment comes back.
	g.Expect(k8s.Delete(ctx, dep)).To(Succeed())
	eventually(t, func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, d)).To(Succeed())
		g.Expect(d.UID).NotTo(Equal(dep.UID))
	})
}

// TestUsersSecretProblems reports a missing or malformed user directory
// without echoing any hash, and follows the Secret: its creation and each
// edit reach the configuration with nothing else changing (the Tenant is
// not touched, and a Stalled Tenant is never retried on a timer).
func TestUsersSecretProblems(t *testing.T) {
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Spec.UsersSecretRef = &v1alpha1.LocalSecretReference{Name: "users"}
	create(t, tenant)
	g := NewWithT(t)
	g.Expect(expectNotReady(t, tenant, v1alpha1.ReasonUsersSecretMissing)).To(ContainSubstring("Secret " + ns + "/users named in spec.usersSecretRef does not exist"))

	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: ns},
		StringData: map[string]string{"htpasswd": "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"}}
	create(t, users)
	msg := expectNotReady(t, tenant, v1alpha1.ReasonUsersSecretInvalid)
	g.Expect(msg).To(ContainSubstring(`user "bob"): only bcrypt hashes are accepted`))
	g.Expect(strings.Contains(msg, "W6ph5Mm5")).To(BeFalse(), "the hash is never echoed")

	const hash = "$2a$10$1Uhiau72Caah0gSrQWrNmO.8dvcKXOZNH3Fq9lROb4S26Z08V2RVy"
	update(t, users, func(s *corev1.Secret) { s.StringData = map[string]string{"htpasswd": "bob:" + hash + "\n"} })
	usernames := func(g Gomega) []string {
		var names []string
		for _, u := range readConfig(g, ns, "acme").Users {
			names = append(names, u.Username)
		}
		return names
	}
	eventually(t, func(g Gomega) { g.Expect(usernames(g)).To(Equal([]string{"bob"})) })
	// Once the Tenant is Ready and every wake-up of that change is spent
	// (the full-pass window is at most 2 s), only the Secret's own edit
	// can bring carol in.
	expectReady(t, tenant)
	time.Sleep(3 * time.Second)
	update(t, users, func(s *corev1.Secret) {
		s.StringData = map[string]string{"htpasswd": "bob:" + hash + "\ncarol:" + hash + "\n"}
	})
	eventually(t, func(g Gomega) { g.Expect(usernames(g)).To(Equal([]string{"bob", "carol"})) })
}

// TestTenantNeverTakesOverForeignObjects: a Deployment or keys Secret that
// exists under the names the Tenant would use, controlled by something else,
// is left alone and the Tenant says why.
func TestTenantNeverTakesOverForeignObjects(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	planted := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-signing-keys", Namespace: ns},
		StringData: map[string]string{"keys.json": "[]"}}
	create(t, planted)
	tenant := validTenant(ns)
	create(t, tenant)
	msg := expectNotReady(t, tenant, v1alpha1.ReasonForeignObject)
	g := NewWithT(t)
	g.Expect(msg).To(ContainSubstring("Secret " + ns + "/acme-signing-keys exists and is not controlled by this Tenant"))
	s := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(planted), s)).To(Succeed())
	g.Expect(string(s.Data["keys.json"])).To(Equal("[]"), "the planted Secret is untouched: the issuer never signs with keys someone else put there")
	g.Expect(s.OwnerReferences).To(BeEmpty())
	g.Expect(k8s.Delete(ctx, s)).To(Succeed())
	expectReady(t, tenant)
}

// TestIssuerNetworkPolicy (security review N15): with --issuer-metrics-from
// (the suite's manager: namespace "monitoring") every issuer gets a
// NetworkPolicy owned by its Tenant: its http port from anywhere, its
// metrics port from the monitoring namespaces only.
func TestIssuerNetworkPolicy(t *testing.T) {
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	create(t, tenant)
	eventually(t, func(g Gomega) {
		np := &networkingv1.NetworkPolicy{}
		g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, np)).To(Succeed())
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		g.Expect(metav1.IsControlledBy(np, tenant)).To(BeTrue())
		g.Expect(np.Spec.Ingress).To(HaveLen(2))
		g.Expect(np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels).To(HaveKeyWithValue("kubernetes.io/metadata.name", "monitoring"))
		dep := &appsv1.Deployment{}
		g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
		g.Expect(np.Spec.PodSelector.MatchLabels).To(Equal(dep.Spec.Selector.MatchLabels))
	})
}
