package controllers_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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
		// Per kind only what the issuer uses (internal/render).
		g.Expect(role.Rules).To(ContainElements(
			rbacv1.PolicyRule{APIGroups: []string{"state.idtenant.dev"}, Resources: []string{"sessions"}, Verbs: []string{"create", "get", "update", "delete"}},
			rbacv1.PolicyRule{APIGroups: []string{"state.idtenant.dev"}, Resources: []string{"authorizationcodes", "refreshfamilies"}, Verbs: []string{"create", "get", "update"}},
			rbacv1.PolicyRule{APIGroups: []string{"state.idtenant.dev"}, Resources: []string{"revokedtokens"}, Verbs: []string{"create", "get"}}))
		// The collector counted the (empty) store.
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tn)).To(Succeed())
		g.Expect(tn.Status.Effective).NotTo(BeNil(), "status not written yet")
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
	// Every round lists at most 4000 records and resumes where the last
	// stopped: draining lists each record about 1.6 times (the next pass
	// lists again what one could not delete), not once per round (3 times
	// over these rounds when each round listed everything).
	listed := metric(g, "idtenant_state_listed_total", ns, "acme", "")
	t.Logf("listed %v records to collect %d of %d", listed, 4*expiredPerKind, len(objs))
	g.Expect(listed).To(BeNumerically("<=", 2*len(objs)))
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
	ghost := ghostTenant(ns)
	r := records{ns: ns, tenant: "ghost", uid: ghost.UID, now: time.Now()}
	objs := []client.Object{r.session("touched", -2*time.Hour), r.session("ended", -2*time.Hour), r.session("active", -time.Minute)}
	const codes = 5000
	for i := range codes {
		objs = append(objs, r.code(fmt.Sprintf("old-%05d", i), -time.Minute))
	}
	createAll(t, fast, objs)

	reader := &touchOnList{Client: fast, t: t, session: client.ObjectKey{Namespace: ns, Name: "touched"}}
	// A list budget above the records, so that every round makes a whole
	// pass; rounds that list part of a pass are tested below.
	col := controllers.NewStateCollectorForTest(reader, fast, []v1alpha1.Tenant{*ghost}, time.Now,
		controllers.StateCollection{Budget: 2000, ListBudget: 10000, Workers: 8})
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

// ghostTenant is a Tenant the manager does not know, so that its own
// collector leaves the test's records alone.
func ghostTenant(ns string) *v1alpha1.Tenant {
	ghost := validTenant(ns)
	ghost.Name, ghost.UID = "ghost", "0b9e4f8e-5a54-4d67-9d6c-2f2f1c1e0d11"
	ghost.Spec.Session = &v1alpha1.SessionSpec{InactivityTimeout: d("1h"), AbsoluteTimeout: d("8h")}
	return ghost
}

// listSpy is an API reader that counts the list requests it serves and
// the records they return, and refuses chosen continued lists as an API
// server whose compaction passed the continue token's version does (410
// Expired), optionally offering a token to continue from.
type listSpy struct {
	client.Reader
	mu                sync.Mutex
	requests, records int
	continued         int
	// expire: the continued lists (counted from 1) to refuse, and whether
	// the refusal offers a token (the one the list sent, still good here).
	expire  map[int]bool
	refused int
}

func (s *listSpy) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	s.mu.Lock()
	s.requests++
	if lo.Continue != "" {
		s.continued++
		if offer, ok := s.expire[s.continued]; ok {
			s.refused++
			s.mu.Unlock()
			err := apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result.")
			if offer {
				err.ErrStatus.Continue = lo.Continue
			}
			return err
		}
	}
	s.mu.Unlock()
	if err := s.Reader.List(ctx, list, opts...); err != nil {
		return err
	}
	s.mu.Lock()
	s.records += meta.LenList(list)
	s.mu.Unlock()
	return nil
}

// take returns the requests and records since the last take.
func (s *listSpy) take() (requests, records int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	requests, records = s.requests, s.records
	s.requests, s.records = 0, 0
	return
}

// deleteSpy counts delete requests.
type deleteSpy struct {
	client.Client
	deletes atomic.Int64
}

func (s *deleteSpy) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	s.deletes.Add(1)
	return s.Client.Delete(ctx, obj, opts...)
}

// TestStateCollectorBoundedDrain drains a backlog of 10,000 expired records
// (beside 2,000 live ones) with the default budgets and checks the API
// server's work per round is bounded: at most 4000 records listed (the
// list budget) and 2000 deletes. Each round resumes the pass where the
// last stopped; the numbers are those of complete passes only.
func TestStateCollectorBoundedDrain(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	fast := fastClient(t)
	ghost := ghostTenant(ns)
	r := records{ns: ns, tenant: "ghost", uid: ghost.UID, now: time.Now()}
	var objs []client.Object
	const expiredPerKind, liveSessions, liveFamilies = 2500, 1000, 1000
	for i := range expiredPerKind {
		objs = append(objs,
			r.session(fmt.Sprintf("old-%05d", i), -2*time.Hour),
			r.code(fmt.Sprintf("old-%05d", i), -time.Minute),
			r.family(fmt.Sprintf("old-%05d", i), -time.Minute, false),
			r.revoked(fmt.Sprintf("old-%05d", i), -time.Second))
	}
	for i := range liveSessions {
		objs = append(objs, r.session(fmt.Sprintf("live-%05d", i), -time.Minute))
	}
	for i := range liveFamilies {
		objs = append(objs, r.family(fmt.Sprintf("live-%05d", i), 24*time.Hour, false))
	}
	createAll(t, fast, objs)
	liveBefore := map[string]string{}
	for _, o := range objs[4*expiredPerKind:] {
		liveBefore[fmt.Sprintf("%T", o)[len("*v1alpha1."):]+"/"+o.GetName()] = o.GetResourceVersion()
	}

	spy := &listSpy{Reader: fast}
	deletes := &deleteSpy{Client: fast}
	col := controllers.NewStateCollectorForTest(spy, deletes, []v1alpha1.Tenant{*ghost}, time.Now, controllers.StateCollection{Workers: 8})
	const listBudget, deleteBudget, pageSize, kinds = 4000, 2000, 500, 4 // the defaults
	g := NewWithT(t)
	var listed, requests, deleted, rounds int
	var cost []string
	var took time.Duration
	for busy := true; busy; {
		rounds++
		g.Expect(rounds).To(BeNumerically("<=", 20), "drained in 20 rounds")
		start := time.Now()
		var err error
		busy, err = col.Round(ctx)
		took += time.Since(start)
		g.Expect(err).NotTo(HaveOccurred())
		req, rec := spy.take()
		del := int(deletes.deletes.Swap(0))
		cost = append(cost, fmt.Sprintf("%d listed (%d requests), %d deleted", rec, req, del))
		g.Expect(rec).To(BeNumerically("<=", listBudget), "round %d listed %d records", rounds, rec)
		g.Expect(req).To(BeNumerically("<=", listBudget/pageSize+kinds), "round %d sent %d list requests", rounds, req)
		g.Expect(del).To(BeNumerically("<=", deleteBudget), "round %d sent %d deletes", rounds, del)
		listed, requests, deleted = listed+rec, requests+req, deleted+del
		if st := col.Observed(ghost); st != nil {
			g.Expect(st.Sessions).To(Equal(int64(liveSessions)), "round %d: counts come from complete passes", rounds)
			g.Expect(st.RefreshFamilies).To(Equal(int64(liveFamilies)), "round %d: counts come from complete passes", rounds)
		}
	}
	t.Logf("drained %d expired of %d records in %d rounds (%v without the pauses between rounds): %v; %d records listed in %d requests",
		4*expiredPerKind, len(objs), rounds, took.Round(time.Millisecond), cost, listed, requests)
	g.Expect(deleted).To(Equal(4*expiredPerKind), "one delete per expired record")
	g.Expect(listed).To(BeNumerically("<=", 2*len(objs)), "each record listed about once per pass it outlives")
	st := col.Observed(ghost)
	g.Expect(st).NotTo(BeNil())
	g.Expect(st.AwaitingCollection).To(BeZero())
	g.Expect(st.OldestExpiredAge.Duration).To(BeZero())
	g.Expect(remaining(g, fast, ns, "ghost")).To(Equal(liveBefore), "exactly the live records are left, untouched")
}

// TestStateCollectorPartialPasses: a pass longer than the list budget
// resumes where it stopped; while it is unfinished the last complete
// pass's numbers stand (a partial count is no total), except that a backlog
// it has already found shows at once.
func TestStateCollectorPartialPasses(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	fast := fastClient(t)
	ghost := ghostTenant(ns)
	r := records{ns: ns, tenant: "ghost", uid: ghost.UID, now: time.Now()}
	var objs []client.Object
	for i := range 1500 {
		objs = append(objs, r.session(fmt.Sprintf("a-%05d", i), -time.Minute))
	}
	createAll(t, fast, objs)

	spy := &listSpy{Reader: fast}
	col := controllers.NewStateCollectorForTest(spy, fast, []v1alpha1.Tenant{*ghost}, time.Now,
		controllers.StateCollection{ListBudget: 1000, Budget: 100, Workers: 8})
	g := NewWithT(t)
	round := func(wantBusy bool, wantListed int) *v1alpha1.StateStatus {
		t.Helper()
		busy, err := col.Round(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(busy).To(Equal(wantBusy), "busy: a pass is unfinished or left records for lack of budget")
		_, listed := spy.take()
		g.Expect(listed).To(Equal(wantListed))
		return col.Observed(ghost)
	}

	// 1000 of the 1500 sessions: no numbers yet.
	g.Expect(round(true, 1000)).To(BeNil(), "a partial count is not published")
	// The other 500 (and the three empty kinds): the pass is complete.
	first := round(false, 500)
	g.Expect(first).NotTo(BeNil())
	g.Expect(first.Sessions).To(Equal(int64(1500)))
	g.Expect(first.AwaitingCollection).To(BeZero())

	// 200 more sessions, 300 codes that expired a minute ago.
	objs = nil
	for i := range 200 {
		objs = append(objs, r.session(fmt.Sprintf("b-%05d", i), -time.Minute))
	}
	for i := range 300 {
		objs = append(objs, r.code(fmt.Sprintf("old-%05d", i), -time.Minute))
	}
	createAll(t, fast, objs)

	// A new pass: 1000 of the 1700 sessions; the last numbers stand.
	g.Expect(round(true, 1000)).To(Equal(first))
	// The other 700 sessions and the 300 codes, 100 of them deleted: the
	// 200 left show as awaiting at once; the counts and their time are
	// still the last complete pass's.
	st := round(true, 1000)
	g.Expect(st.AwaitingCollection).To(Equal(int64(200)))
	g.Expect(st.OldestExpiredAge.Duration).To(BeNumerically(">=", time.Minute))
	g.Expect(st.Sessions).To(Equal(int64(1500)))
	g.Expect(st.Collected).To(Equal(first.Collected))
	g.Expect(st.LastCollectedAt).To(Equal(first.LastCollectedAt))
	// The empty kinds end the pass; the 200 it left bring the next pass
	// at once (busy).
	st = round(true, 0)
	g.Expect(st.Sessions).To(Equal(int64(1700)))
	g.Expect(st.AwaitingCollection).To(Equal(int64(200)))
	g.Expect(st.Collected).To(Equal(int64(100)))

	// Further passes take 100 a pass until none is left.
	for i := 0; st.AwaitingCollection > 0; i++ {
		g.Expect(i).To(BeNumerically("<", 8))
		busy, err := col.Round(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		_, listed := spy.take()
		g.Expect(listed).To(BeNumerically("<=", 1000))
		st = col.Observed(ghost)
		g.Expect(st.Sessions).To(Equal(int64(1700)))
		if st.AwaitingCollection == 0 {
			g.Expect(busy).To(BeFalse())
		}
	}
	left := remaining(g, fast, ns, "ghost")
	g.Expect(left).To(HaveLen(1700))
}

// TestStateCollectorExpiredContinue: a continue token the API server no
// longer honours (410 Expired, after its compaction) starts the pass over,
// keeping what it deleted and counting nothing twice; a second expiry in
// the same pass continues from the token the API server offers, so a pass
// longer than the API server keeps history still ends.
func TestStateCollectorExpiredContinue(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	fast := fastClient(t)
	ghost := ghostTenant(ns)
	r := records{ns: ns, tenant: "ghost", uid: ghost.UID, now: time.Now()}
	var objs []client.Object
	for i := range 1200 {
		objs = append(objs, r.session(fmt.Sprintf("live-%05d", i), -time.Minute))
	}
	for i := range 700 {
		objs = append(objs, r.code(fmt.Sprintf("old-%05d", i), -time.Minute))
	}
	createAll(t, fast, objs)

	// Continued lists: sessions pages 2 and 3 (#1, #2); codes page 2 (#3)
	// is refused without a token: the pass starts over, with 500 codes
	// deleted. Sessions page 2 (#4); page 3 (#5) is refused with a token
	// and listed with it (#6); the 200 codes left fit one page.
	spy := &listSpy{Reader: fast, expire: map[int]bool{3: false, 5: true}}
	col := controllers.NewStateCollectorForTest(spy, fast, []v1alpha1.Tenant{*ghost}, time.Now, controllers.StateCollection{Workers: 8})
	g := NewWithT(t)
	busy, err := col.Round(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(busy).To(BeFalse(), "the pass ended in this round")
	g.Expect(spy.refused).To(Equal(2))
	_, listed := spy.take()
	g.Expect(listed).To(Equal(1200 + 500 + 1200 + 200))
	st := col.Observed(ghost)
	g.Expect(st).NotTo(BeNil())
	g.Expect(st.Sessions).To(Equal(int64(1200)), "nothing counted twice")
	g.Expect(st.Collected).To(Equal(int64(700)), "deletes before the restart count")
	g.Expect(st.AwaitingCollection).To(BeZero())
	g.Expect(remaining(g, fast, ns, "ghost")).To(HaveLen(1200))
}
