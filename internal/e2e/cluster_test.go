package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// issuerPods lists the issuer Pods of the shop's Tenant that are not being
// deleted.
func issuerPods(g Gomega, ns string) []corev1.Pod {
	var pods corev1.PodList
	g.Expect(k8s.List(context.Background(), &pods, client.InNamespace(ns),
		client.MatchingLabels{"app.kubernetes.io/name": "idtenant-issuer"})).To(Succeed())
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

func isReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// tokenPoller asks the token endpoint for client_credentials tokens
// through the issuer URL until stopped, a new connection per request (so
// that every request goes through the proxy's choice of a ready Pod, as a
// client without keep-alive would), and counts failures.
type tokenPoller struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func pollTokens(t *testing.T, s *shop) *tokenPoller {
	id, secret := clientSecret(t, s.ns, s.m2m.Name)
	p := &tokenPoller{stop: make(chan struct{})}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {s.bills.Spec.Audience}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			req, _ := http.NewRequest(http.MethodPost, s.issuer+"/oauth/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(id, secret)
			resp, err := hc.Do(req)
			switch {
			case err != nil:
				p.failed.Add(1)
				p.firstErr.CompareAndSwap(nil, err.Error())
			case resp.StatusCode != http.StatusOK:
				p.failed.Add(1)
				p.firstErr.CompareAndSwap(nil, resp.Status)
			default:
				p.ok.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return p
}

func (p *tokenPoller) halt() { close(p.stop); p.wg.Wait() }

// TestRollingUpdateKeepsServing: with two replicas, `kubectl rollout
// restart` of the issuer (a pod template change) is rolled by
// kube-controller-manager's deployment and replicaset controllers with the
// rendered maxSurge 1 / maxUnavailable 0, Pods are bound and run by the dev
// kubelet, and a client asking the token endpoint through the issuer URL
// all along sees no failure. The PodDisruptionBudget's status comes from
// the disruption controller, and it refuses the second of two evictions.
func TestRollingUpdateKeepsServing(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	ctx := context.Background()
	patch(t, s.tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Replicas = new(int32(2)) })
	var before []corev1.Pod
	eventually(t, func(g Gomega) {
		before = issuerPods(g, s.ns)
		g.Expect(before).To(HaveLen(2))
		g.Expect(isReady(before[0]) && isReady(before[1])).To(BeTrue())
	})
	waitReady(t, s.tenant)

	poller := pollTokens(t, s)
	time.Sleep(time.Second)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: issuerconfig.IssuerName("acme"), Namespace: s.ns}}
	patch(t, dep, func(d *appsv1.Deployment) {
		if d.Spec.Template.Annotations == nil {
			d.Spec.Template.Annotations = map[string]string{}
		}
		d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = time.Now().Format(time.RFC3339)
	})
	old := map[string]bool{before[0].Name: true, before[1].Name: true}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
		g.Expect(dep.Status.ObservedGeneration).To(Equal(dep.Generation))
		g.Expect(dep.Status.UpdatedReplicas).To(Equal(int32(2)))
		g.Expect(dep.Status.AvailableReplicas).To(Equal(int32(2)))
		var pods corev1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(s.ns), client.MatchingLabels{"app.kubernetes.io/name": "idtenant-issuer"})).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(2), "the old Pods are gone")
		for _, p := range pods.Items {
			g.Expect(old[p.Name]).To(BeFalse(), "Pod %s is from before the rollout", p.Name)
		}
	}).WithTimeout(2 * time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())
	time.Sleep(time.Second)
	poller.halt()
	g.Expect(poller.failed.Load()).To(BeZero(), "token requests failed during the rollout (first: %v)", poller.firstErr.Load())
	g.Expect(poller.ok.Load()).To(BeNumerically(">", 20), "the poller kept asking")
	t.Logf("rollout: %d token requests through the issuer URL, %d failed", poller.ok.Load(), poller.failed.Load())

	// The PodDisruptionBudget (maxUnavailable 1 with two replicas).
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: issuerconfig.IssuerName("acme"), Namespace: s.ns}}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pdb), pdb)).To(Succeed())
		g.Expect(pdb.Status.CurrentHealthy).To(Equal(int32(2)))
		g.Expect(pdb.Status.DisruptionsAllowed).To(Equal(int32(1)))
	})
	pods := issuerPods(g, s.ns)
	evict := func(p corev1.Pod) error {
		return k8s.SubResource("eviction").Create(ctx, &p, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
	}
	g.Expect(evict(pods[0])).To(Succeed(), "one replica may go")
	err := evict(pods[1])
	g.Expect(apierrors.IsTooManyRequests(err)).To(BeTrue(), "the budget refuses the second eviction: %v", err)
}

// TestLostIssuerIsReplaced: a killed issuer process is restarted in its Pod
// (restartPolicy Always: the restart count says so), and a deleted Pod is
// replaced by its ReplicaSet with a new Pod that serves the issuer URL.
func TestLostIssuerIsReplaced(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	var first corev1.Pod
	eventually(t, func(g Gomega) {
		pods := issuerPods(g, s.ns)
		g.Expect(pods).To(HaveLen(1))
		g.Expect(isReady(pods[0])).To(BeTrue())
		first = pods[0]
	})
	kubelet.Kill(s.ns, issuerconfig.IssuerName("acme"))
	eventually(t, func(g Gomega) {
		pods := issuerPods(g, s.ns)
		g.Expect(pods).To(HaveLen(1))
		g.Expect(pods[0].UID).To(Equal(first.UID), "the same Pod")
		g.Expect(pods[0].Status.ContainerStatuses).To(HaveLen(1))
		g.Expect(pods[0].Status.ContainerStatuses[0].RestartCount).To(Equal(int32(1)))
		g.Expect(isReady(pods[0])).To(BeTrue())
	})

	must(t, k8s.Delete(context.Background(), &first))
	eventually(t, func(g Gomega) {
		pods := issuerPods(g, s.ns)
		g.Expect(pods).To(HaveLen(1))
		g.Expect(pods[0].UID).NotTo(Equal(first.UID), "a new Pod from the ReplicaSet")
		g.Expect(pods[0].Spec.NodeName).To(Equal("dev"))
		g.Expect(isReady(pods[0])).To(BeTrue())
		running := kubelet.Replicas(s.ns, issuerconfig.IssuerName("acme"))
		g.Expect(running).To(HaveLen(1), "the deleted Pod's process has stopped")
		g.Expect(running[0].Name).To(Equal(pods[0].Name))
		resp, err := http.Get(s.issuer + "/.well-known/openid-configuration")
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	})
}
