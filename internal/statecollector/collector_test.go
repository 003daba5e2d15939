package statecollector_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/statecollector"
	"github.com/idtenant/idtenant/internal/statecollector/statetest"
)

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
	r := statetest.Records{NS: ns, Tenant: "ghost", UID: ghost.UID, Now: time.Now()}
	objs := []client.Object{r.Session("touched", -2*time.Hour), r.Session("ended", -2*time.Hour), r.Session("active", -time.Minute)}
	const codes = 5000
	for i := range codes {
		objs = append(objs, r.Code(fmt.Sprintf("old-%05d", i), -time.Minute))
	}
	statetest.CreateAll(t, fast, objs)

	reader := &touchOnList{Client: fast, t: t, session: client.ObjectKey{Namespace: ns, Name: "touched"}}
	// A list budget above the records, so that every round makes a whole
	// pass; rounds that list part of a pass are tested below.
	col := statecollector.NewForTest(reader, fast, []v1alpha1.Tenant{*ghost}, time.Now,
		statecollector.Options{Budget: 2000, ListBudget: 10000, Workers: 8})
	g := NewWithT(t)
	count := func() (sessions, codes int) {
		for key := range statetest.Remaining(g, fast, ns, "ghost") {
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

// ghostTenant is a Tenant the API server does not know (nothing else
// collects its records); its sessions idle out after 1h.
func ghostTenant(ns string) *v1alpha1.Tenant {
	return &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "ghost", Namespace: ns, UID: "0b9e4f8e-5a54-4d67-9d6c-2f2f1c1e0d11"},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example",
			Session: &v1alpha1.SessionSpec{InactivityTimeout: &metav1.Duration{Duration: time.Hour}, AbsoluteTimeout: &metav1.Duration{Duration: 8 * time.Hour}}}}
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
	r := statetest.Records{NS: ns, Tenant: "ghost", UID: ghost.UID, Now: time.Now()}
	var objs []client.Object
	const expiredPerKind, liveSessions, liveFamilies = 2500, 1000, 1000
	for i := range expiredPerKind {
		objs = append(objs,
			r.Session(fmt.Sprintf("old-%05d", i), -2*time.Hour),
			r.Code(fmt.Sprintf("old-%05d", i), -time.Minute),
			r.Family(fmt.Sprintf("old-%05d", i), -time.Minute, false),
			r.Revoked(fmt.Sprintf("old-%05d", i), -time.Second))
	}
	for i := range liveSessions {
		objs = append(objs, r.Session(fmt.Sprintf("live-%05d", i), -time.Minute))
	}
	for i := range liveFamilies {
		objs = append(objs, r.Family(fmt.Sprintf("live-%05d", i), 24*time.Hour, false))
	}
	statetest.CreateAll(t, fast, objs)
	liveBefore := map[string]string{}
	for _, o := range objs[4*expiredPerKind:] {
		liveBefore[fmt.Sprintf("%T", o)[len("*v1alpha1."):]+"/"+o.GetName()] = o.GetResourceVersion()
	}

	spy := &listSpy{Reader: fast}
	deletes := &deleteSpy{Client: fast}
	col := statecollector.NewForTest(spy, deletes, []v1alpha1.Tenant{*ghost}, time.Now, statecollector.Options{Workers: 8})
	const listBudget, deleteBudget, pageSize, kinds = 4000, 2000, 500, len(store.Kinds) // the defaults
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
	g.Expect(statetest.Remaining(g, fast, ns, "ghost")).To(Equal(liveBefore), "exactly the live records are left, untouched")
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
	r := statetest.Records{NS: ns, Tenant: "ghost", UID: ghost.UID, Now: time.Now()}
	var objs []client.Object
	for i := range 1500 {
		objs = append(objs, r.Session(fmt.Sprintf("a-%05d", i), -time.Minute))
	}
	statetest.CreateAll(t, fast, objs)

	spy := &listSpy{Reader: fast}
	col := statecollector.NewForTest(spy, fast, []v1alpha1.Tenant{*ghost}, time.Now,
		statecollector.Options{ListBudget: 1000, Budget: 100, Workers: 8})
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
	// The other 500 (and the four empty kinds): the pass is complete.
	first := round(false, 500)
	g.Expect(first).NotTo(BeNil())
	g.Expect(first.Sessions).To(Equal(int64(1500)))
	g.Expect(first.AwaitingCollection).To(BeZero())

	// 200 more sessions, 300 codes that expired a minute ago.
	objs = nil
	for i := range 200 {
		objs = append(objs, r.Session(fmt.Sprintf("b-%05d", i), -time.Minute))
	}
	for i := range 300 {
		objs = append(objs, r.Code(fmt.Sprintf("old-%05d", i), -time.Minute))
	}
	statetest.CreateAll(t, fast, objs)

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
	left := statetest.Remaining(g, fast, ns, "ghost")
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
	r := statetest.Records{NS: ns, Tenant: "ghost", UID: ghost.UID, Now: time.Now()}
	var objs []client.Object
	for i := range 1200 {
		objs = append(objs, r.Session(fmt.Sprintf("live-%05d", i), -time.Minute))
	}
	for i := range 700 {
		objs = append(objs, r.Code(fmt.Sprintf("old-%05d", i), -time.Minute))
	}
	statetest.CreateAll(t, fast, objs)

	// Continued lists: sessions pages 2 and 3 (#1, #2); codes page 2 (#3)
	// is refused without a token: the pass starts over, with 500 codes
	// deleted. Sessions page 2 (#4); page 3 (#5) is refused with a token
	// and listed with it (#6); the 200 codes left fit one page.
	spy := &listSpy{Reader: fast, expire: map[int]bool{3: false, 5: true}}
	col := statecollector.NewForTest(spy, fast, []v1alpha1.Tenant{*ghost}, time.Now, statecollector.Options{Workers: 8})
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
	g.Expect(statetest.Remaining(g, fast, ns, "ghost")).To(HaveLen(1200))
}
