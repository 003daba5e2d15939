package follow

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/controlplane"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/render"
)

var (
	admin kubernetes.Interface
	cfg   *rest.Config
)

func TestMain(m *testing.M) {
	cp, err := controlplane.Start("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg = cp.Config
	admin = kubernetes.NewForConfigOrDie(cfg)
	code := m.Run()
	_ = cp.Stop()
	os.Exit(code)
}

// fakeIssuer records what it was given, like issuer.Server.Swap.
type fakeIssuer struct {
	mu  sync.Mutex
	gen int64
}

func (f *fakeIssuer) Swap(d *issuerconfig.Document) error {
	if err := d.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	f.gen = d.Generation
	f.mu.Unlock()
	return nil
}

func (f *fakeIssuer) Generation() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen
}

// issuerEnv creates a namespace with a tenant's config Secrets and Lease
// slots, and a client that has only the issuer's rendered Role.
func issuerEnv(t *testing.T, slots int32) (ns string, issuerClient kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	ns = fmt.Sprintf("f%d", time.Now().UnixNano()%1e9)
	must(t, create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	writeConfig(t, ns, 1)
	for i := int32(0); i < slots; i++ {
		_, err := admin.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: issuerconfig.LeaseName("acme", i)}}, metav1.CreateOptions{})
		must(t, err)
	}
	w := render.Workload{TenantName: "acme", Namespace: ns, Replicas: slots - 1, ConfigSecrets: []string{"acme-issuer-config"}}
	_, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, w.ServiceAccount(), metav1.CreateOptions{})
	must(t, err)
	_, err = admin.RbacV1().Roles(ns).Create(ctx, w.Role(), metav1.CreateOptions{})
	must(t, err)
	_, err = admin.RbacV1().RoleBindings(ns).Create(ctx, w.RoleBinding(), metav1.CreateOptions{})
	must(t, err)
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":acme-issuer",
		Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	issuerClient = kubernetes.NewForConfigOrDie(c)
	// The RoleBinding reaches the API server's authorizer a moment after
	// it is written (a CI run got 403 on the first request): wait for it.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, err := issuerClient.CoordinationV1().Leases(ns).Get(ctx, issuerconfig.LeaseName("acme", 0), metav1.GetOptions{})
		if !apierrors.IsForbidden(err) {
			break
		}
	}
	return ns, issuerClient
}

func create(ctx context.Context, ns *corev1.Namespace) error {
	_, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeConfig(t *testing.T, ns string, generation int64) {
	t.Helper()
	doc := issuerconfig.Document{APIVersion: issuerconfig.APIVersion, Generation: generation,
		Tenant: issuerconfig.Object[v1alpha1.TenantSpec]{Name: "acme", Namespace: ns, Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example"}}}
	secrets, err := issuerconfig.Secrets("acme", ns, doc)
	must(t, err)
	s := secrets[0]
	ctx := context.Background()
	cur, err := admin.CoreV1().Secrets(ns).Get(ctx, s.Name, metav1.GetOptions{})
	if err == nil {
		cur.Data = s.Data
		_, err = admin.CoreV1().Secrets(ns).Update(ctx, cur, metav1.UpdateOptions{})
	} else {
		_, err = admin.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
	}
	must(t, err)
}

// TestSecretsFollowsGenerations runs the follower with the issuer's own
// least-privilege Role and checks that new generations arrive, a corrupted
// Secret keeps the last good one with a reason, and a fix recovers.
func TestSecretsFollowsGenerations(t *testing.T) {
	ns, client := issuerEnv(t, 2)
	g := NewWithT(t)
	// The issuer's Role reaches its own config Secret and nothing else.
	_, err := client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "listing all Secrets must be forbidden: %v", err)
	_, err = client.CoreV1().Secrets(ns).Get(context.Background(), "acme-signing-keys", metav1.GetOptions{})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "reading the keys Secret must be forbidden: %v", err)
	src := &Secrets{Client: client, Namespace: ns, Name: "acme-issuer-config", Retry: 200 * time.Millisecond}
	first, err := src.Load(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(first.Generation).To(Equal(int64(1)))

	target := &fakeIssuer{gen: 1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = src.Run(ctx, target) }()

	writeConfig(t, ns, 2)
	g.Eventually(target.Generation).WithTimeout(20 * time.Second).Should(Equal(int64(2)))

	// Corrupt the Secret by hand: the issuer keeps generation 2 and says why.
	s, err := admin.CoreV1().Secrets(ns).Get(ctx, "acme-issuer-config", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	s.Data[issuerconfig.DataKey] = []byte("not gzip")
	_, err = admin.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(src.LastError).WithTimeout(20 * time.Second).Should(MatchError(ContainSubstring("do not match the manifest")))
	g.Consistently(target.Generation).WithTimeout(time.Second).Should(Equal(int64(2)))

	writeConfig(t, ns, 3)
	g.Eventually(target.Generation).WithTimeout(20 * time.Second).Should(Equal(int64(3)))
	g.Eventually(src.LastError).WithTimeout(5 * time.Second).Should(BeNil())
}

// TestLeaseSlots checks replicas claim distinct slots, report their
// generation, free slots on exit, and take over slots of dead replicas.
func TestLeaseSlots(t *testing.T) {
	ns, client := issuerEnv(t, 3)
	ctx := context.Background()
	g := NewWithT(t)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	replica := func(id string) *Leases {
		// Slots 0: probe, as the issuer does.
		return &Leases{Client: client, Namespace: ns, Prefix: "acme-issuer", Identity: id, Now: clock}
	}
	a, b, c, d := replica("pod-a"), replica("pod-b"), replica("pod-c"), replica("pod-d")
	g.Expect(a.Renew(ctx, Report{Generation: 4})).To(Succeed())
	g.Expect(b.Renew(ctx, Report{Generation: 3, Error: "generation 4: shards do not match"})).To(Succeed())
	g.Expect(c.Renew(ctx, Report{Generation: 4})).To(Succeed())
	g.Expect([]string{a.Held(), b.Held(), c.Held()}).To(ConsistOf("acme-issuer-0", "acme-issuer-1", "acme-issuer-2"))
	// The fourth slot neither exists nor is named in the Role: probing
	// stops there with an error naming the slots it tried.
	g.Expect(d.Renew(ctx, Report{Generation: 4})).To(MatchError(ContainSubstring("no free Lease slot among acme-issuer-0..2")))

	lease, err := admin.CoordinationV1().Leases(ns).Get(ctx, b.Held(), metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lease.Annotations[issuerconfig.AnnotationServedGeneration]).To(Equal("3"))
	g.Expect(lease.Annotations[issuerconfig.AnnotationConfigError]).To(Equal("generation 4: shards do not match"))
	g.Expect(issuerconfig.Live(lease, now)).To(BeTrue())
	g.Expect(issuerconfig.Live(lease, now.Add(15*time.Second))).To(BeFalse(), "a Lease not renewed within its duration is stale")

	// a exits cleanly: its slot is free at once for d.
	held := a.Held()
	g.Expect(a.Release(ctx)).To(Succeed())
	g.Expect(d.Renew(ctx, Report{Generation: 4})).To(Succeed())
	g.Expect(d.Held()).To(Equal(held))

	// c dies without releasing: after the Lease duration, a new replica
	// takes over its slot; c, if it comes back, must claim another.
	now = now.Add(16 * time.Second)
	g.Expect(b.Renew(ctx, Report{Generation: 4})).To(Succeed())
	g.Expect(d.Renew(ctx, Report{Generation: 4})).To(Succeed())
	e := replica("pod-e")
	g.Expect(e.Renew(ctx, Report{Generation: 4})).To(Succeed())
	cSlot := c.Held()
	g.Expect(e.Held()).To(Equal(cSlot))
	g.Expect(c.Renew(ctx, Report{Generation: 4})).To(MatchError(ContainSubstring("no free Lease slot")))
	lease, _ = admin.CoordinationV1().Leases(ns).Get(ctx, cSlot, metav1.GetOptions{})
	g.Expect(*lease.Spec.HolderIdentity).To(Equal("pod-e"))
	g.Expect(strconv.Itoa(int(*lease.Spec.LeaseDurationSeconds))).To(Equal("15"))

	// Scaling up: the operator creates another slot and names it in the
	// Role; the replica that found none takes it on its next renewal,
	// without a restart.
	w := render.Workload{TenantName: "acme", Namespace: ns, Replicas: 3, ConfigSecrets: []string{"acme-issuer-config"}}
	_, err = admin.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: issuerconfig.LeaseName("acme", 3)}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = admin.RbacV1().Roles(ns).Update(ctx, w.Role(), metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() error { return c.Renew(ctx, Report{Generation: 4}) }).WithTimeout(10 * time.Second).Should(Succeed())
	g.Expect(c.Held()).To(Equal(issuerconfig.LeaseName("acme", 3)))
}

// A replica started before the operator created any slot says so.
func TestLeaseSlotsNoneYet(t *testing.T) {
	ns, client := issuerEnv(t, 2)
	for i := int32(0); i < 2; i++ {
		must(t, admin.CoordinationV1().Leases(ns).Delete(context.Background(), issuerconfig.LeaseName("acme", i), metav1.DeleteOptions{}))
	}
	l := &Leases{Client: client, Namespace: ns, Prefix: "acme-issuer", Identity: "pod-a"}
	NewWithT(t).Expect(l.Renew(context.Background(), Report{Generation: 1})).To(MatchError(ContainSubstring("claiming Lease slot acme-issuer-0 for pod-a")))
}

// TestLeaseReportsChangeAtOnce: a replica that starts serving a new
// generation says so on its Lease within a fraction of a second, not at its
// next renewal (every 5 s by default), so status can follow the issuer; and
// once it holds its slot, each report is one request (no read first).
func TestLeaseReportsChangeAtOnce(t *testing.T) {
	ns, _ := issuerEnv(t, 2)
	g := NewWithT(t)
	var requests sync.Map // "GET" / "PUT" -> *atomic.Int32
	count := func(method string) int32 {
		n, _ := requests.LoadOrStore(method, new(atomic.Int32))
		return n.(*atomic.Int32).Load()
	}
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":acme-issuer",
		Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			n, _ := requests.LoadOrStore(req.Method, new(atomic.Int32))
			n.(*atomic.Int32).Add(1)
			return rt.RoundTrip(req)
		})
	}
	client := kubernetes.NewForConfigOrDie(c)
	var mu sync.Mutex
	gen := int64(1)
	report := func() Report {
		mu.Lock()
		defer mu.Unlock()
		return Report{Generation: gen}
	}
	l := &Leases{Client: client, Namespace: ns, Prefix: "acme-issuer", Identity: "pod-a"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, report) }()
	served := func() string {
		lease, err := admin.CoordinationV1().Leases(ns).Get(context.Background(), issuerconfig.LeaseName("acme", 0), metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		return lease.Annotations[issuerconfig.AnnotationServedGeneration]
	}
	g.Eventually(served).WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal("1"))
	gets, puts := count(http.MethodGet), count(http.MethodPut)

	for _, next := range []int64{2, 3} {
		mu.Lock()
		gen = next
		mu.Unlock()
		start := time.Now()
		g.Eventually(served).WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(strconv.FormatInt(next, 10)))
		g.Expect(time.Since(start)).To(BeNumerically("<", time.Second), "generation %d reported after %v; the renewal period is 5s", next, time.Since(start))
	}
	g.Expect(count(http.MethodGet)).To(Equal(gets), "reports of a held slot read nothing")
	g.Expect(count(http.MethodPut) - puts).To(BeNumerically(">=", 2))

	cancel()
	g.Expect(<-done).To(Succeed())
	lease, err := admin.CoordinationV1().Leases(ns).Get(context.Background(), issuerconfig.LeaseName("acme", 0), metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lease.Spec.HolderIdentity).To(BeNil(), "released on exit")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
