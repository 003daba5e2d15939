package controllers_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/manager"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/statecollector/statetest"
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
			rbacv1.PolicyRule{APIGroups: []string{"state.idtenant.dev"}, Resources: []string{"sessions", "refreshfamilies"}, Verbs: []string{"create", "get", "update", "delete"}},
			rbacv1.PolicyRule{APIGroups: []string{"state.idtenant.dev"}, Resources: []string{"authorizationcodes", "consents"}, Verbs: []string{"create", "get", "update"}},
			rbacv1.PolicyRule{APIGroups: []string{"state.idtenant.dev"}, Resources: []string{"revokedtokens"}, Verbs: []string{"create", "get"}}))
		// The state records are bounded by default (spec.state.quota).
		quota := &corev1.ResourceQuota{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-state"}, quota)).To(Succeed())
		g.Expect(quota.Spec.Hard).To(HaveKey(corev1.ResourceName("count/sessions.state.idtenant.dev")))
		g.Expect(metav1.IsControlledBy(quota, tn)).To(BeTrue(), "the Tenant owns its quota")
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
	r := statetest.Records{NS: ns, Tenant: "acme", Now: time.Now()}
	var objs []client.Object
	const expiredPerKind = 2500
	for i := range expiredPerKind {
		objs = append(objs,
			r.Session(fmt.Sprintf("idle-%05d", i), -2*time.Hour),
			r.Code(fmt.Sprintf("old-%05d", i), -time.Minute),
			r.Family(fmt.Sprintf("old-%05d", i), -time.Minute, i%2 == 0),
			r.Revoked(fmt.Sprintf("old-%05d", i), -time.Second))
	}
	const liveSessions, liveFamilies, revokedFamilies = 20, 10, 5
	for i := range liveSessions {
		objs = append(objs, r.Session(fmt.Sprintf("live-%02d", i), -time.Minute))
	}
	for i := range liveFamilies {
		objs = append(objs, r.Family(fmt.Sprintf("live-%02d", i), 24*time.Hour, false))
	}
	for i := range revokedFamilies {
		objs = append(objs, r.Family(fmt.Sprintf("revoked-%02d", i), 24*time.Hour, true))
	}
	for i := range 10 {
		objs = append(objs, r.Code(fmt.Sprintf("fresh-%02d", i), 10*time.Minute), r.Revoked(fmt.Sprintf("fresh-%02d", i), time.Hour))
	}
	live := len(objs) - 4*expiredPerKind
	start := time.Now()
	statetest.CreateAll(t, fast, objs)
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
		left = statetest.Remaining(g, fast, ns, "acme")
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
	g.Expect(statetest.Metric(g, "idtenant_state_collected_total", ns, "acme", "")).To(Equal(float64(4*expiredPerKind)), "each expired record deleted once")
	// Every round lists at most 4000 records and resumes where the last
	// stopped: draining lists each record about 1.6 times (the next pass
	// lists again what one could not delete), not once per round (3 times
	// over these rounds when each round listed everything).
	listed := statetest.Metric(g, "idtenant_state_listed_total", ns, "acme", "")
	t.Logf("listed %v records to collect %d of %d", listed, 4*expiredPerKind, len(objs))
	g.Expect(listed).To(BeNumerically("<=", 2*len(objs)))
	g.Expect(statetest.Metric(g, "idtenant_state_records", ns, "acme", "Session", "live")).To(Equal(float64(liveSessions)))
	g.Expect(statetest.Metric(g, "idtenant_state_records", ns, "acme", "RefreshFamily", "live")).To(Equal(float64(liveFamilies + revokedFamilies)))
	g.Expect(statetest.Metric(g, "idtenant_state_records", ns, "acme", "", "expired")).To(BeZero())
}
