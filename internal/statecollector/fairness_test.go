package statecollector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/statecollector"
	"github.com/idtenant/idtenant/internal/statecollector/statetest"
)

// TestCollectionIsFairAcrossTenants (security review N1): one Tenant's
// backlog, however large, delays another Tenant's collection by at most one
// round. The delete budget is shared, and which Tenant spends it first
// rotates, so a flooded Tenant cannot keep a quiet one's expired records
// (and its quota) from being freed.
func TestCollectionIsFairAcrossTenants(t *testing.T) {
	ctx := context.Background()
	fast := fastClient(t)
	now := time.Now()
	const budget, flood, quiet = 300, 1500, 40
	var tenants []v1alpha1.Tenant
	var objs []client.Object
	// One namespace: the Tenants' order is then their names' ("flooded"
	// first), so without the rotation the quiet one would wait for the
	// whole backlog.
	ns := newNamespace(t, nil)
	for _, name := range []string{"flooded", "quiet"} {
		tn := v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("0b9e4f8e-5a54-4d67-9d6c-" + name)},
			Spec: v1alpha1.TenantSpec{IssuerURL: "https://" + name + ".example"}}
		tenants = append(tenants, tn)
		r := statetest.Records{NS: ns, Tenant: name, UID: tn.UID, Now: now}
		n := quiet
		if name == "flooded" {
			n = flood
		}
		for i := range n {
			objs = append(objs, r.Revoked(fmt.Sprintf("%s-%05d", name, i), -time.Minute))
		}
	}
	statetest.CreateAll(t, fast, objs)

	// Both orders of the rotation: whichever Tenant comes first, the quiet
	// one is drained within two rounds while the flooded one's backlog
	// remains.
	col := statecollector.NewForTest(fast, fast, tenants, time.Now, statecollector.Options{Budget: budget, ListBudget: 4000, Workers: 8})
	g := NewWithT(t)
	for round := 1; round <= 2; round++ {
		busy, err := col.Round(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(busy).To(BeTrue(), "round %d: the flooded Tenant's backlog outlasts the budget", round)
	}
	g.Expect(statetest.Remaining(g, fast, ns, "quiet")).To(BeEmpty(),
		"the quiet Tenant's %d expired records are collected within two rounds beside a backlog of %d", quiet, flood)
	g.Expect(len(statetest.Remaining(g, fast, ns, "flooded"))).To(BeNumerically(">=", flood-2*budget),
		"each round spends at most the shared budget")
}
