package controllers_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Admission rules that hold on update: what a change may not do.

// TestAdmissionRejectsScalingAMemoryStore: the rule holds on update too,
// so a Memory tenant cannot be scaled out from under its sessions.
func TestAdmissionRejectsScalingAMemoryStore(t *testing.T) {
	ns := newNamespace(t, nil)
	ctx := context.Background()
	tenant := validTenant(ns)
	tenant.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StateMemory}
	create(t, tenant)
	tenant.Spec.Replicas = new(int32(3))
	err := k8s.Update(ctx, tenant)
	if err == nil {
		t.Fatal("the API server let a Memory tenant scale to 3 replicas")
	}
	for _, w := range []string{"spec.state.type Memory allows spec.replicas of 1 only", "spec.state.type Kubernetes"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

// TestAdmissionRefusesRepointingAConnection (security review N12): a
// connection's issuer cannot change in place, or the new provider's users
// would inherit the old users' subjects; removing it and adding it back
// stays possible, as a deliberate second change.
func TestAdmissionRefusesRepointingAConnection(t *testing.T) {
	ns := newNamespace(t, nil)
	ctx := context.Background()
	tenant := validTenant(ns)
	tenant.Spec.Connections = []v1alpha1.Connection{{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.test", ClientID: "idtenant"}}}
	create(t, tenant)
	eventually(t, func(g Gomega) { // a status write may come between
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		tenant.Spec.Connections[0].OIDC.IssuerURL = "https://gitlab.com"
		err := k8s.Update(ctx, tenant)
		g.Expect(err).To(HaveOccurred(), "re-pointing connection corp at another issuer")
		g.Expect(err.Error()).To(ContainSubstring("spec.connections[].oidc.issuerURL cannot change in place"))
	})
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Connections[0].OIDC.ClientID = "idtenant-2" })
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Connections = nil })
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Connections = []v1alpha1.Connection{{Name: "corp", OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.moved.test", ClientID: "idtenant"}}}
	})
}
