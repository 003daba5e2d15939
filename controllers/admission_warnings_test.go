package controllers_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/manager"
)

// warnings collects the API server's admission warnings.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

// TestUnrestrictedConnectionWarning (security review N3): with the
// installation's ValidatingAdmissionPolicy (config/admission, which the
// test control plane installs as kubectl apply -k config/default does), kubectl
// apply (here a server-side dry run, as Argo CD and Flux do) warns at once
// about a Tenant connecting a provider anyone can register at without
// allowedDomains or allowedGroups, naming the connection; a restricted one,
// or a private provider, gets no warning; nothing is refused.
func TestUnrestrictedConnectionWarning(t *testing.T) {
	ctx := context.Background()
	// The control plane installs config/admission, as the installation does.
	seen := &warnings{}
	cfg := rest.CopyConfig(restConfig)
	cfg.WarningHandler = seen
	c, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, nil)
	tenant := func(conns ...v1alpha1.Connection) *v1alpha1.Tenant {
		tn := validTenant(ns)
		tn.Spec.Connections = conns
		return tn
	}
	conn := func(name, issuer string, domains ...string) v1alpha1.Connection {
		return v1alpha1.Connection{Name: name, OIDC: v1alpha1.OIDCConnection{IssuerURL: issuer, ClientID: "acme", AllowedDomains: domains}}
	}
	dryRun := func(tn *v1alpha1.Tenant) []string {
		t.Helper()
		if err := c.Create(ctx, tn, client.DryRunAll); err != nil {
			t.Fatalf("a warning must not refuse: %v", err)
		}
		return seen.take()
	}
	// The API server's policy informer picks the policy up within seconds.
	eventually(t, func(g Gomega) {
		got := dryRun(tenant(conn("google", "https://accounts.google.com/"), conn("corp", "https://login.corp.example")))
		g.Expect(got).To(ContainElement(SatisfyAll(ContainSubstring("spec.connections google:"), ContainSubstring("set oidc.allowedDomains or oidc.allowedGroups"))))
		g.Expect(strings.Join(got, "\n")).NotTo(ContainSubstring("corp"))
	})
	g := NewWithT(t)
	g.Expect(dryRun(tenant(conn("google", "https://accounts.google.com", "acme.example")))).To(BeEmpty(), "restricted by allowedDomains")
	g.Expect(dryRun(tenant(conn("corp", "https://login.corp.example")))).To(BeEmpty(), "a private provider")
	g.Expect(dryRun(tenant())).To(BeEmpty(), "no connections")
}
