package controllers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/follow"
)

// TestIssuerReplicasReport drives the Lease slots the way issuer replicas do
// and checks the Tenant's IssuerAvailable and IssuerSynced, including a
// replica that cannot load the newest generation and one that dies.
func TestIssuerReplicasReport(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Annotations = map[string]string{annotationNoFleet: "true"}
	tenant.Spec.Replicas = new(int32(2))
	create(t, tenant)
	tn := &v1alpha1.Tenant{}
	var rendered int64
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
		g.Expect(tn.Status.Issuer).NotTo(BeNil())
		g.Expect(tn.Status.Effective.StateType).To(Equal(v1alpha1.StateKubernetes), "the default store is shown as in force")
		g.Expect(tn.Status.Advisories).To(BeEmpty(), "two replicas share the Kubernetes store: nothing to advise")
		rendered = tn.Status.Issuer.ConfigGeneration
		c := condition(g, tn, v1alpha1.ConditionIssuerAvailable)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNoReplicaReporting))
	})

	cs := kubernetes.NewForConfigOrDie(restConfig)
	replica := func(id string) *follow.Leases {
		// 6 s Leases renewed every 300 ms: a replica pauses long enough to
		// go stale, and a loaded CI machine (other packages' API servers
		// run beside this one) does not make a renewing one look stale.
		return &follow.Leases{Client: cs, Namespace: ns, Prefix: "acme-issuer", Slots: 3, Identity: id, Duration: 6 * time.Second}
	}
	a, b := replica("acme-issuer-aaaa"), replica("acme-issuer-bbbb")
	// Both replicas renew in the background, as real ones do; b reports a
	// load error until it is paused.
	stop := make(chan struct{})
	defer close(stop)
	bReport := follow.Report{Generation: rendered - 1, Error: "generation 2: issuer config shards do not match the manifest"}
	renewEvery := func(l *follow.Leases, r follow.Report, until <-chan struct{}) {
		for {
			_ = l.Renew(ctx, r)
			select {
			case <-stop:
				return
			case <-until:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}
	bPaused := make(chan struct{})
	go renewEvery(a, follow.Report{Generation: rendered}, nil)
	go renewEvery(b, bReport, bPaused)
	eventually(t, func(g Gomega) {
		c := condition(g, tn, v1alpha1.ConditionIssuerSynced)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(ContainSubstring("1 of 2 live replicas serve configuration generation"))
		g.Expect(c.Message).To(ContainSubstring("acme-issuer-bbbb: generation 2: issuer config shards do not match the manifest"))
		g.Expect(condition(g, tn, v1alpha1.ConditionIssuerAvailable).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(tn.Status.Issuer.LiveReplicas).To(Equal(int32(2)))
		g.Expect(tn.Status.Issuer.ServedGeneration).To(Equal(rendered - 1))
	})

	// b pauses (stops renewing): once its Lease is stale, only a counts.
	close(bPaused)
	eventually(t, func(g Gomega) {
		c := condition(g, tn, v1alpha1.ConditionIssuerSynced)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Message).To(ContainSubstring("Every live replica (1) serves configuration generation"))
		g.Expect(tn.Status.Issuer.LiveReplicas).To(Equal(int32(1)))
	})

	// b was only paused: it renews again, reporting exactly what it did
	// before, so the only change is that its Lease is live again.
	go renewEvery(b, bReport, nil)
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
		g.Expect(tn.Status.Issuer.LiveReplicas).To(Equal(int32(2)), "a resumed replica counts again")
	})
}
