package controllers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// discoveryServer answers OpenID Connect discovery naming issuer, or its
// own URL when issuer is empty.
func discoveryServer(t *testing.T, issuer string) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		iss := issuer
		if iss == "" {
			iss = srv.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/auth",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/keys"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestConnectionsReady: the operator checks each connection's discovery
// live and reports it per connection and in ConnectionsReady (an
// unreachable upstream, one naming another issuer, a missing client
// secret), says which redirect URI to register, and hands the client
// secret to the issuer's configuration only: never to status or events.
func TestConnectionsReady(t *testing.T) {
	ns := newNamespace(t, nil)
	ctx := context.Background()
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	good := discoveryServer(t, "")
	liar := discoveryServer(t, "https://someone-else.example")
	// An upstream that redirects elsewhere, or answers with an error page:
	// neither redirect nor body reaches status.
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/internal", http.StatusFound)
	}))
	t.Cleanup(moved.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal admin console: db password hunter2", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	const secret = "upstream-client-secret-0123456789abcdef"
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "corp-oidc", Namespace: ns, Annotations: map[string]string{v1alpha1.AnnotationConnectionIssuer: good.URL}},
		StringData: map[string]string{"clientSecret": secret + "\n"}}); err != nil {
		t.Fatal(err)
	}
	// Security review N7: a Secret that does not name the connection's
	// issuer is sent nowhere — here, one meant for another provider.
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unlabelled", Namespace: ns,
		Annotations: map[string]string{v1alpha1.AnnotationConnectionIssuer: "https://login.other.example"}},
		StringData: map[string]string{"clientSecret": secret}}); err != nil {
		t.Fatal(err)
	}
	conn := func(name, issuer, secretName string) v1alpha1.Connection {
		c := v1alpha1.Connection{Name: name, OIDC: v1alpha1.OIDCConnection{IssuerURL: issuer, ClientID: "idtenant"}}
		if secretName != "" {
			c.OIDC.ClientSecretRef = &v1alpha1.SecretKeyReference{Name: secretName}
		}
		return c
	}
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: ns}, Spec: v1alpha1.TenantSpec{
		IssuerURL: "https://id.acme.example/" + ns,
		Connections: []v1alpha1.Connection{
			conn("corp", good.URL, "corp-oidc"),
			conn("down", "http://127.0.0.1:1", ""),
			conn("liar", liar.URL, ""),
			conn("nosecret", good.URL, "missing"),
			conn("moved", moved.URL, ""),
			conn("broken", broken.URL, ""),
			conn("unlabelled", good.URL, "unlabelled"),
			// The operator's own signing keys, named by a Tenant editor
			// who may not read Secrets (security review N7).
			func() v1alpha1.Connection {
				c := conn("thief", good.URL, "acme-signing-keys")
				c.OIDC.ClientSecretRef.Key = "keys.json"
				return c
			}(),
		}}}
	if err := k8s.Create(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	byName := map[string]v1alpha1.ConnectionStatus{}
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		g.Expect(tenant.Status.Connections).To(HaveLen(8))
		for _, c := range tenant.Status.Connections {
			// Discovery is checked in the background; the Tenant is
			// woken with each result.
			g.Expect(c.Reason).NotTo(Equal(v1alpha1.ReasonDiscoveryPending), c.Name)
			byName[c.Name] = c
		}
	}).Should(Succeed())
	g.Expect(byName["corp"].Ready).To(BeTrue(), byName["corp"].Message)
	g.Expect(byName["corp"].RedirectURI).To(Equal("https://id.acme.example/" + ns + "/login/callback"))
	g.Expect(byName["corp"].LastChecked).NotTo(BeNil())
	g.Expect(byName["corp"].Since).To(Equal(tenant.Generation), "seen since the Tenant's first generation")
	g.Expect(byName["corp"].Message).To(ContainSubstring("sessions end after 72h0m0s idle or 168h0m0s in all, this Tenant's spec.session"))
	g.Expect(readyReason(byName["down"])).To(Equal([]any{false, v1alpha1.ReasonDiscoveryFailed}), byName["down"].Message)
	g.Expect(readyReason(byName["liar"])).To(Equal([]any{false, v1alpha1.ReasonIssuerMismatch}), byName["liar"].Message)
	g.Expect(byName["liar"].Message).To(ContainSubstring("someone-else.example"))
	g.Expect(readyReason(byName["nosecret"])).To(Equal([]any{false, v1alpha1.ReasonClientSecretMissing}), byName["nosecret"].Message)
	g.Expect(byName["nosecret"].Message).To(ContainSubstring("missing"))
	g.Eventually(func(g Gomega) { // the signing keys are written in the same reconcile
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		for _, c := range tenant.Status.Connections {
			byName[c.Name] = c
		}
		g.Expect(readyReason(byName["thief"])).To(Equal([]any{false, v1alpha1.ReasonClientSecretRefused}), byName["thief"].Message)
	}).Should(Succeed())
	g.Expect(byName["thief"].Message).To(ContainSubstring("idtenant's own"))
	g.Expect(readyReason(byName["unlabelled"])).To(Equal([]any{false, v1alpha1.ReasonClientSecretRefused}), byName["unlabelled"].Message)
	g.Expect(byName["unlabelled"].Message).To(ContainSubstring("annotate --overwrite secret unlabelled idtenant.dev/connection-issuer=" + good.URL))
	g.Expect(readyReason(byName["moved"])).To(Equal([]any{false, v1alpha1.ReasonDiscoveryFailed}))
	g.Expect(byName["moved"].Message).To(ContainSubstring("HTTP 302"), "redirects are not followed")
	g.Expect(readyReason(byName["broken"])).To(Equal([]any{false, v1alpha1.ReasonDiscoveryFailed}))
	g.Expect(byName["broken"].Message).To(ContainSubstring("HTTP 500"))
	g.Expect(byName["broken"].Message).NotTo(ContainSubstring("hunter2"), "the body of an error page never reaches status")
	cond := meta.FindStatusCondition(tenant.Status.Conditions, v1alpha1.ConditionConnectionsReady)
	g.Expect(cond).NotTo(BeNil())
	g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(cond.Message).To(ContainSubstring("7 of 8 connections cannot sign users in"))

	g.Eventually(func(g Gomega) {
		doc := readConfig(g, ns, "acme")
		g.Expect(doc.ConnectionSecrets).To(Equal(map[string]string{"corp": secret}), "the secret, trimmed, for the one connection that has it; never a refused Secret's")
		g.Expect(doc.ConnectionEpochs).To(HaveKeyWithValue("corp", int64(1)))
		g.Expect(doc.Tenant.Spec.Connections).To(HaveLen(8), "failing connections are still served: their users get an error page, not a missing button")
	}).Should(Succeed())
	raw, _ := json.Marshal(tenant.Status)
	g.Expect(string(raw)).NotTo(ContainSubstring(secret))
	events := &eventsv1.EventList{}
	if err := k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		g.Expect(e.Note).NotTo(ContainSubstring(secret))
	}

	// Fixing the Secret's reference brings the connection up; dropping
	// every connection removes the condition.
	setConnections := func(c ...v1alpha1.Connection) {
		g.Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant); err != nil {
				return err
			}
			tenant.Spec.Connections = c
			return k8s.Update(ctx, tenant) // a status write may come between
		}).Should(Succeed())
	}
	setConnections(conn("corp", good.URL, "corp-oidc"))
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		cond := meta.FindStatusCondition(tenant.Status.Conditions, v1alpha1.ConditionConnectionsReady)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.Status).To(Equal(metav1.ConditionTrue), cond.Message)
	}).Should(Succeed())
	g.Expect(tenant.Status.Connections[0].Since).To(Equal(int64(1)), "an edit of other connections keeps corp's epoch")
	setConnections()
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		g.Expect(meta.FindStatusCondition(tenant.Status.Conditions, v1alpha1.ConditionConnectionsReady)).To(BeNil())
		g.Expect(tenant.Status.Connections).To(BeEmpty())
		g.Expect(readConfig(g, ns, "acme").ConnectionSecrets).To(BeEmpty())
	}).Should(Succeed())
	// Added back, the connection starts a new epoch: the sessions it had
	// are bound to the old one and stay ended.
	setConnections(conn("corp", good.URL, "corp-oidc"))
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		g.Expect(tenant.Status.Connections).To(HaveLen(1))
		g.Expect(tenant.Status.Connections[0].Since).To(Equal(tenant.Generation))
		g.Expect(readConfig(g, ns, "acme").ConnectionEpochs).To(HaveKeyWithValue("corp", tenant.Generation))
	}).Should(Succeed())
	g.Expect(tenant.Generation).To(BeNumerically(">", 1))
}

// readyReason is a connection status's readiness and reason.
func readyReason(c v1alpha1.ConnectionStatus) []any { return []any{c.Ready, c.Reason} }
