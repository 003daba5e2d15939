package controllers_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/manager"
)

// TestTenantStateKeyAndStore: every Tenant gets one state key, handed to its
// issuer in the configuration and kept across every later reconcile; the
// store type reaches the issuer as --store and decides what its Role
// grants; a Tenant deleted and created again starts with a new key.
func TestTenantStateKeyAndStore(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	create(t, tenant)

	var doc *issuerconfig.Document
	eventually(t, func(g Gomega) {
		doc = readConfig(g, ns, "acme")
		g.Expect(doc.StateKey).To(HaveLen(issuerconfig.StateKeySize))
	})
	g := NewWithT(t)
	tn := &v1alpha1.Tenant{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
	g.Expect(doc.TenantUID).To(Equal(tn.UID), "the issuer owns its records by the Tenant's UID")
	keys := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-signing-keys"}, keys)).To(Succeed())
	g.Expect(keys.Data["state-key"]).To(Equal(doc.StateKey), "the key is kept in the signing-keys Secret")
	stateKey := doc.StateKey

	dep := &appsv1.Deployment{}
	role := &rbacv1.Role{}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
		g.Expect(dep.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--store=kubernetes"))
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, role)).To(Succeed())
		g.Expect(role.Rules).To(ContainElement(rbacv1.PolicyRule{APIGroups: []string{"state.idtenant.dev"},
			Resources: []string{"sessions", "authorizationcodes", "refreshfamilies", "revokedtokens"},
			Verbs:     []string{"create", "get", "update", "delete"}}))
		// The collector counted the (empty) store.
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
		g.Expect(tn.Status.Effective.StateType).To(Equal(v1alpha1.StateKubernetes))
		g.Expect(tn.Status.State).NotTo(BeNil())
		g.Expect(tn.Status.State.LastCollectedAt).NotTo(BeNil())
	})
	g.Expect(tn.Spec.State).To(BeNil(), "the default is shown in status, the spec keeps what the user wrote")
	raw, _ := json.Marshal(tn.Status)
	for _, enc := range []string{base64.StdEncoding.EncodeToString(stateKey), hex.EncodeToString(stateKey)} {
		g.Expect(string(raw)).NotTo(ContainSubstring(enc), "the state key never appears in status")
	}

	// A change that re-renders the configuration keeps the key: a new one
	// would orphan every stored session.
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("1h")}
	})
	eventually(t, func(g Gomega) {
		next := readConfig(g, ns, "acme")
		g.Expect(next.Generation).To(BeNumerically(">", doc.Generation))
		g.Expect(next.StateKey).To(Equal(stateKey))
	})

	// The Memory store: pods roll to --store=memory, the Role loses the
	// state records, status stops counting. The key stays (it also seals
	// pending login requests).
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StateMemory} })
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
		g.Expect(dep.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--store=memory"))
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, role)).To(Succeed())
		for _, r := range role.Rules {
			g.Expect(r.APIGroups).NotTo(ContainElement("state.idtenant.dev"))
		}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
		g.Expect(tn.Status.Effective.StateType).To(Equal(v1alpha1.StateMemory))
		g.Expect(tn.Status.State).To(BeNil(), "the operator cannot count an issuer's memory")
		g.Expect(readConfig(g, ns, "acme").StateKey).To(Equal(stateKey))
	})

	// Deleted and created again (its children are still there: envtest
	// runs no garbage collector): a new Tenant, a new key.
	g.Expect(k8s.Delete(ctx, tn)).To(Succeed())
	again := validTenant(ns)
	eventually(t, func(g Gomega) { g.Expect(k8s.Create(ctx, again)).To(Succeed()) })
	eventually(t, func(g Gomega) {
		next := readConfig(g, ns, "acme")
		g.Expect(next.TenantUID).To(Equal(again.UID))
		g.Expect(next.StateKey).To(HaveLen(issuerconfig.StateKeySize))
		g.Expect(next.StateKey).NotTo(Equal(stateKey), "a predecessor's state key is never reused")
	})
}

// fastClient reaches the API server without client-side rate limiting, to
// create and count thousands of records quickly.
func fastClient(t *testing.T) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS = -1
	c, err := client.New(cfg, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createAll creates objs with a few workers.
func createAll(t *testing.T, c client.Client, objs []client.Object) {
	t.Helper()
	ctx := context.Background()
	next := make(chan client.Object)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for o := range next {
				if err := c.Create(ctx, o); err != nil {
					errs <- fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
				}
			}
		})
	}
	for _, o := range objs {
		next <- o
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// records builds state records of one tenant, owned by it as the issuer
// creates them. expired controls which side of now each kind falls.
type records struct {
	ns, tenant string
	uid        types.UID
	now        time.Time
}

func (r records) meta(name string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: r.ns, Labels: map[string]string{statev1alpha1.TenantLabel: r.tenant}}
	if r.uid != "" {
		yes := true
		m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "idtenant.dev/v1alpha1", Kind: "Tenant", Name: r.tenant, UID: r.uid, BlockOwnerDeletion: &yes}}
	}
	return m
}

func (r records) at(d time.Duration) metav1.Time {
	return metav1.NewTime(r.now.Add(d).Truncate(time.Second))
}

// session is live when lastActivity is recent (the tests' tenants idle out
// after 1h).
func (r records) session(name string, lastActivity time.Duration) *statev1alpha1.Session {
	return &statev1alpha1.Session{ObjectMeta: r.meta(name), Spec: statev1alpha1.SessionSpec{
		SID: name, Subject: "alice", AuthTime: r.at(-3 * time.Hour), LastActivity: r.at(lastActivity), UserFingerprint: "fp"}}
}

func (r records) code(name string, expiresIn time.Duration) *statev1alpha1.AuthorizationCode {
	return &statev1alpha1.AuthorizationCode{ObjectMeta: r.meta(name), Spec: statev1alpha1.AuthorizationCodeSpec{
		ClientID: "shop", RedirectURI: "https://shop.example/cb", SessionKey: "s", SID: "s", Subject: "alice",
		AuthTime: r.at(-time.Hour), ExpiresAt: r.at(expiresIn)}}
}

func (r records) family(name string, expiresIn time.Duration, revoked bool) *statev1alpha1.RefreshFamily {
	f := &statev1alpha1.RefreshFamily{ObjectMeta: r.meta(name), Spec: statev1alpha1.RefreshFamilySpec{
		ClientID: "shop", Subject: "alice", AuthTime: r.at(-time.Hour), UserFingerprint: "fp",
		GrantedAt: r.at(-time.Hour), LastUsed: r.at(-time.Minute), Current: "c", ExpiresAt: r.at(expiresIn)}}
	if revoked {
		at := r.at(-time.Minute)
		f.Spec.RevokedAt = &at
	}
	return f
}

func (r records) revoked(name string, expiresIn time.Duration) *statev1alpha1.RevokedToken {
	return &statev1alpha1.RevokedToken{ObjectMeta: r.meta(name), Spec: statev1alpha1.RevokedTokenSpec{ClientID: "shop", ExpiresAt: r.at(expiresIn)}}
}

// remaining lists the names and resourceVersions of a tenant's records.
func remaining(g Gomega, c client.Client, ns, tenant string) map[string]string {
	out := map[string]string{}
	for _, kind := range []string{"Session", "AuthorizationCode", "RefreshFamily", "RevokedToken"} {
		cont := ""
		for {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(statev1alpha1.GroupVersion.WithKind(kind + "List"))
			g.Expect(c.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{statev1alpha1.TenantLabel: tenant},
				client.Limit(1000), client.Continue(cont))).To(Succeed())
			for _, o := range list.Items {
				out[kind+"/"+o.Name] = o.ResourceVersion
			}
			if cont = list.Continue; cont == "" {
				break
			}
		}
	}
	return out
}

// TestStateCollection gives a Tenant a backlog of 10,000 expired records of
// every kind beside live ones, and checks the manager's collector deletes
// exactly the expired ones (over several budget-limited rounds), leaves
// the live ones untouched, and that status and metrics count what is left.
func TestStateCollection(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	fast := fastClient(t)

	// The records are there before their Tenant (so the collector starts
	// on the whole backlog at once, and the test times collection alone);
	// hence no owner reference, which only the garbage collector reads.
	r := records{ns: ns, tenant: "acme", now: time.Now()}
	var objs []client.Object
	const expiredPerKind = 2500
	for i := range expiredPerKind {
		objs = append(objs,
			r.session(fmt.Sprintf("idle-%05d", i), -2*time.Hour),
			r.code(fmt.Sprintf("old-%05d", i), -time.Minute),
			r.family(fmt.Sprintf("old-%05d", i), -time.Minute, i%2 == 0),
			r.revoked(fmt.Sprintf("old-%05d", i), -time.Second))
	}
	const liveSessions, liveFamilies, revokedFamilies = 20, 10, 5
	for i := range liveSessions {
		objs = append(objs, r.session(fmt.Sprintf("live-%02d", i), -time.Minute))
	}
	for i := range liveFamilies {
		objs = append(objs, r.family(fmt.Sprintf("live-%02d", i), 24*time.Hour, false))
	}
	for i := range revokedFamilies {
		objs = append(objs, r.family(fmt.Sprintf("revoked-%02d", i), 24*time.Hour, true))
	}
	for i := range 10 {
		objs = append(objs, r.code(fmt.Sprintf("fresh-%02d", i), 10*time.Minute), r.revoked(fmt.Sprintf("fresh-%02d", i), time.Hour))
	}
	live := len(objs) - 4*expiredPerKind
	start := time.Now()
	createAll(t, fast, objs)
	t.Logf("created %d records (%d expired) in %v", len(objs), 4*expiredPerKind, time.Since(start).Round(time.Millisecond))
	tenant := validTenant(ns)
	tenant.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("1h"), AbsoluteTimeout: d("8h")}
	create(t, tenant)
	created := time.Now()

	liveBefore := map[string]string{}
	for _, o := range objs[4*expiredPerKind:] {
		liveBefore[fmt.Sprintf("%T", o)[len("*v1alpha1."):]+"/"+o.GetName()] = o.GetResourceVersion()
	}
	g := NewWithT(t)
	var left map[string]string
	g.Eventually(func(g Gomega) {
		left = remaining(g, fast, ns, "acme")
		g.Expect(len(left)).To(Equal(live))
	}).WithTimeout(3 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
	t.Logf("collected %d expired records %v after their Tenant was created (the first pass comes within 3s)",
		4*expiredPerKind, time.Since(created).Round(time.Millisecond))
	g.Expect(left).To(Equal(liveBefore), "exactly the live records are left, untouched")

	tn := &v1alpha1.Tenant{}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
		st := tn.Status.State
		g.Expect(st).NotTo(BeNil())
		g.Expect(st.Sessions).To(Equal(int64(liveSessions)))
		g.Expect(st.RefreshFamilies).To(Equal(int64(liveFamilies)), "revoked families are kept until they expire but are not live")
		g.Expect(st.AwaitingCollection).To(BeZero())
		g.Expect(st.OldestExpiredAge.Duration).To(BeZero())
	})
	g.Expect(metric(g, "idtenant_state_collected_total", ns, "acme", "")).To(Equal(float64(4*expiredPerKind)), "each expired record deleted once")
	g.Expect(metric(g, "idtenant_state_records", ns, "acme", "Session", "live")).To(Equal(float64(liveSessions)))
	g.Expect(metric(g, "idtenant_state_records", ns, "acme", "RefreshFamily", "live")).To(Equal(float64(liveFamilies + revokedFamilies)))
	g.Expect(metric(g, "idtenant_state_records", ns, "acme", "", "expired")).To(BeZero())
}

// metric sums the series of name for a tenant whose kind and state labels
// match (empty: any).
func metric(g Gomega, name, ns, tenant, kind string, state ...string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var sum float64
	found := false
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["namespace"] != ns || l["tenant"] != tenant || (kind != "" && l["kind"] != kind) || (len(state) > 0 && l["state"] != state[0]) {
				continue
			}
			found = true
			sum += value(m)
		}
	}
	g.Expect(found).To(BeTrue(), "no series of %s for %s/%s", name, ns, tenant)
	return sum
}

func value(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// touchOnList is an API reader that, right after listing Sessions, touches
// one of them as an issuer would (a request on the user's behalf moves
// lastActivity), so the collector's delete finds a newer resourceVersion.
type touchOnList struct {
	client.Client
	t       *testing.T
	session client.ObjectKey
	once    sync.Once
}

func (r *touchOnList) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := r.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if _, ok := list.(*statev1alpha1.SessionList); ok {
		r.once.Do(func() {
			s := &statev1alpha1.Session{}
			if err := r.Client.Get(ctx, r.session, s); err != nil {
				r.t.Errorf("touching session: %v", err)
				return
			}
			s.Spec.LastActivity = metav1.NewTime(time.Now())
			if err := r.Client.Update(ctx, s); err != nil {
				r.t.Errorf("touching session: %v", err)
			}
		})
	}
	return nil
}

// TestStateCollectorRounds drives the collector round by round: each round
// counts every record but sends at most its budget of deletes, reporting
// the rest as awaiting collection; a session touched between the listing
// and the delete is kept.
func TestStateCollectorRounds(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	fast := fastClient(t)
	// A Tenant the manager does not know, so its collector leaves these
	// records alone.
	ghost := validTenant(ns)
	ghost.Name, ghost.UID = "ghost", "0b9e4f8e-5a54-4d67-9d6c-2f2f1c1e0d11"
	ghost.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("1h"), AbsoluteTimeout: d("8h")}
	r := records{ns: ns, tenant: "ghost", uid: ghost.UID, now: time.Now()}
	objs := []client.Object{r.session("touched", -2*time.Hour), r.session("ended", -2*time.Hour), r.session("active", -time.Minute)}
	const codes = 5000
	for i := range codes {
		objs = append(objs, r.code(fmt.Sprintf("old-%05d", i), -time.Minute))
	}
	createAll(t, fast, objs)

	reader := &touchOnList{Client: fast, t: t, session: client.ObjectKey{Namespace: ns, Name: "touched"}}
	col := controllers.NewStateCollectorForTest(reader, fast, []v1alpha1.Tenant{*ghost}, time.Now, controllers.StateCollection{Budget: 2000, Workers: 8})
	g := NewWithT(t)
	count := func() (sessions, codes int) {
		for key := range remaining(g, fast, ns, "ghost") {
			if key[:8] == "Session/" {
				sessions++
			} else {
				codes++
			}
		}
		return
	}
	round := func(wantBusy bool) *v1alpha1.StateStatus {
		t.Helper()
		busy, err := col.Round(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(busy).To(Equal(wantBusy), "busy: the budget ran out before the backlog")
		return col.Observed(ghost)
	}

	// Round 1: both expired sessions get a delete (the touched one is
	// refused by its new resourceVersion), then codes until 2000 deletes
	// were sent; the other codes are counted as awaiting.
	st := round(true)
	s, c := count()
	g.Expect(s).To(Equal(2), "the touched and the active session are kept")
	g.Expect(c).To(Equal(codes-1998), "2000 deletes: 2 sessions (one refused), 1998 codes")
	g.Expect(st.Sessions).To(Equal(int64(2)), "the touched session counts as live")
	g.Expect(st.Collected).To(Equal(int64(1999)))
	g.Expect(st.AwaitingCollection).To(Equal(int64(codes - 1998)))
	g.Expect(st.OldestExpiredAge.Duration).To(BeNumerically(">=", time.Minute), "the codes expired a minute before the test began")
	touched := &statev1alpha1.Session{}
	g.Expect(fast.Get(ctx, client.ObjectKey{Namespace: ns, Name: "touched"}, touched)).To(Succeed())
	g.Expect(time.Since(touched.Spec.LastActivity.Time)).To(BeNumerically("<", time.Minute))

	// Round 2: the next 2000.
	st = round(true)
	_, c = count()
	g.Expect(c).To(Equal(codes - 1998 - 2000))
	g.Expect(st.AwaitingCollection).To(Equal(int64(c)))

	// Round 3 finishes within the budget.
	st = round(false)
	s, c = count()
	g.Expect([]int{s, c}).To(Equal([]int{2, 0}))
	g.Expect(st.Sessions).To(Equal(int64(2)))
	g.Expect(st.Collected).To(Equal(int64(codes - 1998 - 2000)))
	g.Expect(st.AwaitingCollection).To(BeZero())
	g.Expect(st.OldestExpiredAge.Duration).To(BeZero())
}
