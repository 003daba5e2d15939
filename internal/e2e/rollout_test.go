package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// refreshChains are clients that each rotate their own refresh token as
// fast as they can through the issuer URL. A request that fails in transit
// (or finds no replica) is retried with the same token, as an OAuth client
// library does; a chain is lost when the issuer answers invalid_grant —
// the user would have to log in again.
type refreshChains struct {
	ok, inTransit, recovered, lost atomic.Int64
	firstLoss                      atomic.Value
	stop                           chan struct{}
	wg                             sync.WaitGroup
}

func runRefreshChains(t testing.TB, s *shop, tokens []string) *refreshChains {
	id, secret := clientSecret(t, s.ns, s.web.Name)
	c := &refreshChains{stop: make(chan struct{})}
	for i, rt := range tokens {
		// Half the clients keep connections alive, as most do: a
		// connection to a replica that stops is the hard case.
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
		refresh := func(rt string) (int, map[string]any, error) {
			req, _ := http.NewRequest(http.MethodPost, s.issuer+"/oauth/token", strings.NewReader(refreshForm(rt).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
			resp, err := hc.Do(req)
			if err != nil {
				return 0, nil, err
			}
			defer resp.Body.Close()
			var out map[string]any
			data, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(data, &out)
			return resp.StatusCode, out, nil
		}
		c.wg.Go(func() {
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				status, body, err := refresh(rt)
				if err != nil || status >= 500 {
					c.inTransit.Add(1)
					for attempt := 0; attempt < 50 && (err != nil || status >= 500); attempt++ {
						time.Sleep(100 * time.Millisecond)
						status, body, err = refresh(rt)
					}
					if status == http.StatusOK {
						c.recovered.Add(1)
					}
				}
				if status != http.StatusOK {
					c.lost.Add(1)
					c.firstLoss.CompareAndSwap(nil, fmt.Sprintf("%d %v %v", status, body, err))
					return
				}
				rt = body["refresh_token"].(string)
				c.ok.Add(1)
			}
		})
	}
	return c
}

func (c *refreshChains) halt() { close(c.stop); c.wg.Wait() }

// refreshShop is the shop with two issuer replicas on the Kubernetes store
// and eight refresh tokens of the back office, half with offline access
// and half bound to their sessions; before are the issuer Pods.
func refreshShop(t testing.TB) (s *shop, tokens []string, before []corev1.Pod) {
	return refreshShopOf(t, newShop(t))
}

// refreshShopOf is refreshShop of the shop s.
func refreshShopOf(t testing.TB, s *shop) (_ *shop, tokens []string, before []corev1.Pod) {
	g := NewWithT(t)
	patch(t, s.web, func(a *v1alpha1.Application) {
		a.Spec.RefreshToken = &v1alpha1.RefreshTokenSpec{AllowOfflineAccess: true}
	})
	patch(t, s.tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Replicas = new(int32(2)) })
	eventually(t, func(g Gomega) {
		before = issuerPods(g, s.ns)
		g.Expect(before).To(HaveLen(2))
		g.Expect(isReady(before[0]) && isReady(before[1])).To(BeTrue())
	})
	waitReady(t, s.tenant, s.web)
	for i := range 8 {
		cfg := s.webConfig(t)
		if i%2 == 1 {
			cfg.Scopes = append(cfg.Scopes, oidc.ScopeOfflineAccess)
		}
		back := newBrowser(t, s.issuer).authorize(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("audience", s.orders.Spec.Audience)))
		tok, err := cfg.Exchange(context.Background(), back.Get("code"))
		must(t, err)
		g.Expect(tok.RefreshToken).NotTo(BeEmpty())
		tokens = append(tokens, tok.RefreshToken)
	}
	return s, tokens, before
}

// rolloutRestart restarts the issuer Deployment as `kubectl rollout
// restart` does and waits until both replicas are new and ready; chains,
// if set, must lose nothing meanwhile.
func rolloutRestart(t testing.TB, s *shop, before []corev1.Pod, chains *refreshChains) {
	ctx := context.Background()
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: issuerconfig.IssuerName("acme"), Namespace: s.ns}}
	patch(t, dep, func(d *appsv1.Deployment) {
		if d.Spec.Template.Annotations == nil {
			d.Spec.Template.Annotations = map[string]string{}
		}
		d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = time.Now().Format(time.RFC3339Nano)
	})
	old := map[string]bool{}
	for _, p := range before {
		old[p.Name] = true
	}
	NewWithT(t).Eventually(func(g Gomega) {
		if chains != nil {
			g.Expect(chains.lost.Load()).To(BeZero(), "a chain was lost: %v", chains.firstLoss.Load())
		}
		var pods corev1.PodList
		g.Expect(k8s.List(ctx, &pods, client.InNamespace(s.ns), client.MatchingLabels{"app.kubernetes.io/name": "idtenant-issuer"})).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(2), "the old Pods are gone")
		for _, p := range pods.Items {
			g.Expect(old[p.Name]).To(BeFalse(), "Pod %s is from before the rollout", p.Name)
			g.Expect(isReady(p)).To(BeTrue())
		}
	}).WithTimeout(3 * time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())
}

// TestRolloutKeepsRefreshChains: a rolling restart of a two-replica issuer
// on the Kubernetes store logs no one out. Eight clients, half with offline
// access and half bound to their sessions, rotate their refresh tokens as
// fast as they can through the issuer URL all along. Stopping replicas
// drain their requests (no response is lost), and a request that fails in
// transit is retried with the same token within reuseInterval and gets the
// successor it missed: no chain ends in invalid_grant. Then one replica is
// killed outright (SIGKILL), and the same holds.
func TestRolloutKeepsRefreshChains(t *testing.T) {
	t.Parallel()
	s, tokens, before := refreshShop(t)
	g := NewWithT(t)
	chains := runRefreshChains(t, s, tokens)
	time.Sleep(time.Second)
	rolloutRestart(t, s, before, chains)
	afterRollout := chains.ok.Load()

	// A replica killed outright (a crash, a lost node) drains nothing: the
	// responses it was writing are lost, and their clients retry at the
	// other replica within reuseInterval.
	victim := issuerPods(g, s.ns)[0]
	g.Expect(kubelet.KillPod(s.ns, victim.Name)).To(BeTrue(), "no process for Pod %s", victim.Name)
	eventually(t, func(g Gomega) {
		g.Expect(chains.ok.Load()).To(BeNumerically(">", afterRollout+100), "the clients kept refreshing after the kill")
		pods := issuerPods(g, s.ns)
		g.Expect(pods).To(HaveLen(2))
		g.Expect(isReady(pods[0]) && isReady(pods[1])).To(BeTrue(), "the killed container is back")
	})
	chains.halt()
	t.Logf("rollout and a SIGKILL: %d refreshes over %d chains, %d failed in transit (%d recovered by a retry with the same token), %d chains lost",
		chains.ok.Load(), len(tokens), chains.inTransit.Load(), chains.recovered.Load(), chains.lost.Load())
	g.Expect(chains.lost.Load()).To(BeZero(), "a chain was lost: %v", chains.firstLoss.Load())
	g.Expect(chains.recovered.Load()).To(Equal(chains.inTransit.Load()), "every request that failed in transit was recovered by its retry")
	g.Expect(chains.ok.Load()).To(BeNumerically(">", 100), "the clients kept refreshing")
}

// BenchmarkRefreshRollout measures eight refresh chains (as in
// TestRolloutKeepsRefreshChains) steadily for 5 s, then through a rolling
// restart of the two replicas: refreshes per second in each phase, and the
// requests that failed in transit and chains lost during the rollout. Run
// with -benchtime=1x (make bench does).
func BenchmarkRefreshRollout(b *testing.B) {
	s, tokens, before := refreshShop(b)
	chains := runRefreshChains(b, s, tokens)
	const steady = 5 * time.Second
	time.Sleep(steady)
	atRollout, start := chains.ok.Load(), time.Now()
	rolloutRestart(b, s, before, chains)
	took := time.Since(start)
	chains.halt()
	b.ReportMetric(float64(atRollout)/steady.Seconds(), "steady-refresh/s")
	b.ReportMetric(float64(chains.ok.Load()-atRollout)/took.Seconds(), "rollout-refresh/s")
	b.ReportMetric(took.Seconds(), "rollout-s")
	b.ReportMetric(float64(chains.inTransit.Load()), "failed-requests")
	b.ReportMetric(float64(chains.lost.Load()), "lost-chains")
}
