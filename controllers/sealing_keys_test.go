package controllers_test

import (
	"context"
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

func sealingRing(g Gomega, ns string) []issuerconfig.SealingKey {
	s := &corev1.Secret{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-signing-keys"}, s)).To(Succeed())
	var ring []issuerconfig.SealingKey
	g.Expect(json.Unmarshal(s.Data["sealing-keys.json"], &ring)).To(Succeed())
	return ring
}

func ringIDs(ring []issuerconfig.SealingKey) []string {
	var ids []string
	for _, k := range ring {
		ids = append(ids, k.ID)
	}
	return ids
}

// TestSealingKeyRing (security review N16): a Tenant gets a sealing key
// ring in its signing-keys Secret and its issuer configuration; a new
// value of the rotation annotation puts a new key first, pending (it opens,
// the current one still seals, until every replica has it:
// internal/keys TestPlanSealing makes it current); a Secret from before
// rings (no ring, an existing state key) keeps the state key's entry,
// sealing, so nothing sealed before is lost. The keys never appear in status.
func TestSealingKeyRing(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	create(t, tenant)
	var first []issuerconfig.SealingKey
	eventually(t, func(g Gomega) {
		first = sealingRing(g, ns)
		g.Expect(first).To(HaveLen(1), "a new Tenant has no state sealed before the ring")
		g.Expect(first[0].Key).To(HaveLen(issuerconfig.StateKeySize))
		g.Expect(readConfig(g, ns, "acme").SealingKeys).To(Equal(first))
	})

	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Annotations = map[string]string{v1alpha1.AnnotationRotateSealingKey: "leak-2026-12-07"}
	})
	eventually(t, func(g Gomega) {
		ring := sealingRing(g, ns)
		g.Expect(ringIDs(ring)).To(HaveLen(2))
		// The new key reaches every replica before it seals: pending,
		// and the one before still current.
		g.Expect(ring[0].Pending).To(BeTrue())
		g.Expect(ring[0].Key).NotTo(Equal(first[0].Key))
		g.Expect(ring[1].ID).To(Equal(first[0].ID))
		g.Expect(ring[1].SupersededAt).To(BeNil())
		g.Expect(readConfig(g, ns, "acme").SealingKeys).To(Equal(ring))
	})
	// The same annotation value again (any reconcile) rotates nothing.
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.DisplayName = "Acme" })
	expectReady(t, tenant)
	NewWithT(t).Expect(sealingRing(NewWithT(t), ns)).To(HaveLen(2))

	// An upgrade: the Secret of an older operator has a state key and no
	// ring. The new ring keeps the state key's entry (empty id).
	s := &corev1.Secret{}
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-signing-keys"}, s)).To(Succeed())
	delete(s.Data, "sealing-keys.json")
	g.Expect(k8s.Update(ctx, s)).To(Succeed())
	eventually(t, func(g Gomega) {
		ring := sealingRing(g, ns)
		g.Expect(ringIDs(ring)).To(HaveLen(2))
		g.Expect(ring[0].Pending).To(BeTrue(), "the state key seals until the new key has reached every replica")
		g.Expect(ring[1].ID).To(BeEmpty(), "the state key's entry")
		g.Expect(ring[1].Key).To(BeEmpty())
	})

	raw := &v1alpha1.Tenant{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), raw)).To(Succeed())
	st, _ := json.Marshal(raw.Status)
	for _, k := range sealingRing(g, ns) {
		if len(k.Key) > 0 {
			b, _ := json.Marshal(k.Key) // base64, as a Secret or JSON would carry it
			g.Expect(string(st)).NotTo(ContainSubstring(string(b[1 : len(b)-1])))
		}
	}
}
