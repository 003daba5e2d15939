package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres/pgtest"
	"github.com/idtenant/idtenant/internal/render"
)

// postgresTenant is a Tenant on the PostgreSQL store whose URL is in
// Secret secret.
func postgresTenant(ns, name, secret, schema string) *v1alpha1.Tenant {
	tn := validTenant(ns)
	tn.Name = name
	tn.Spec.IssuerURL = "https://" + name + ".example/" + ns
	tn.Spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StatePostgreSQL,
		PostgreSQL: &v1alpha1.PostgreSQLState{SecretRef: v1alpha1.SecretKeyReference{Name: secret}, Schema: schema}}
	return tn
}

func databaseSecret(ns, name, dbURL string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"url": dbURL}}
}

// TestTenantOnPostgreSQL: the operator reads the database URL from the
// Tenant's Secret, creates and migrates the Tenant's schema, reports it
// in StateReady and status.state, hands the URL to the issuer through its
// configuration only (never status, events or the pod template), rolls
// the issuers to --store=postgresql, and collects expired rows, counting
// the live ones in status.
func TestTenantOnPostgreSQL(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	// The server trusts local connections; the password is there to be
	// looked for where it must not be.
	u, err := url.Parse(pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	const password = "hunter2-do-not-show"
	u.User = url.UserPassword("postgres", password)
	dbURL := u.String()
	create(t, databaseSecret(ns, "acme-db", dbURL), postgresTenant(ns, "acme", "acme-db", ""))
	tn := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"}}
	schema := postgres.DefaultSchema(ns, "acme")

	eventually(t, func(g Gomega) {
		c := condition(g, tn, v1alpha1.ConditionStateReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonStateReady))
		g.Expect(c.Message).To(ContainSubstring(schema))
		g.Expect(tn.Status.State).NotTo(BeNil())
		g.Expect(tn.Status.State.Backend).To(Equal(v1alpha1.StatePostgreSQL))
		g.Expect(tn.Status.State.Schema).To(Equal(schema))
		g.Expect(tn.Status.State.SchemaVersion).To(Equal(postgres.SchemaVersion))
		doc := readConfig(g, ns, "acme")
		g.Expect(doc.StateDatabase).NotTo(BeNil())
		g.Expect(doc.StateDatabase.URL).To(Equal(dbURL))
		g.Expect(doc.StateDatabase.Schema).To(Equal(schema))
		g.Expect(doc.StateDatabase.MaxConnections).To(Equal(v1alpha1.DefaultPostgreSQLMaxConnections))
		dep := &appsv1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
		g.Expect(dep.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--store=postgresql"))
		g.Expect(dep.Spec.Template.Annotations).To(HaveKey(render.AnnotationStateDatabase))
		quota := &corev1.ResourceQuota{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-state"}, quota)).NotTo(Succeed(), "no ResourceQuota: the records are not in etcd")
	})
	dep := &appsv1.Deployment{}
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
	rolled := dep.Spec.Template.Annotations[render.AnnotationStateDatabase]
	eventually(t, func(g Gomega) {
		var reasons []string
		for _, e := range events(t, ns) {
			reasons = append(reasons, e.Reason+": "+e.Note)
		}
		g.Expect(reasons).To(ContainElement(ContainSubstring(fmt.Sprintf("StateSchemaMigrated: PostgreSQL schema %s migrated from version 0 to %d", schema, postgres.SchemaVersion))))
	})
	for what, obj := range map[string]any{"status": tn.Status, "pod template": dep.Spec.Template, "events": events(t, ns)} {
		raw, _ := json.Marshal(obj)
		g.Expect(string(raw)).NotTo(ContainSubstring(password), "the database password in the Tenant's %s", what)
	}

	// Rows the issuer would write: a live session, an ended one, an
	// expired code. The collector deletes what ended and counts the rest.
	st, err := postgres.Open(postgres.Config{URL: dbURL, Schema: schema})
	g.Expect(err).NotTo(HaveOccurred())
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	live := store.Key([]byte("k"), store.KindSession, "live")
	ended := store.Key([]byte("k"), store.KindSession, "ended")
	code := store.Key([]byte("k"), store.KindCode, "expired")
	_, err = st.Sessions().Create(ctx, live, store.Session{SID: "a", Subject: "alice", AuthTime: now, LastActivity: now, UserFingerprint: "f"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = st.Sessions().Create(ctx, ended, store.Session{SID: "b", Subject: "bob", AuthTime: now.Add(-30 * 24 * time.Hour), LastActivity: now.Add(-30 * 24 * time.Hour), UserFingerprint: "f"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = st.Codes().Create(ctx, code, store.Code{ClientID: "c", SessionKey: live, SID: "a", Subject: "alice", AuthTime: now, ExpiresAt: now.Add(-time.Minute)})
	g.Expect(err).NotTo(HaveOccurred())
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tn), tn)).To(Succeed())
		g.Expect(tn.Status.State).NotTo(BeNil())
		g.Expect(tn.Status.State.Sessions).To(Equal(int64(1)))
		g.Expect(tn.Status.State.AwaitingCollection).To(BeZero())
		_, err := st.Sessions().Get(ctx, ended)
		g.Expect(err).To(MatchError(store.ErrNotFound))
		_, err = st.Codes().Get(ctx, code)
		g.Expect(err).To(MatchError(store.ErrNotFound))
	})
	_, err = st.Sessions().Get(ctx, live)
	g.Expect(err).NotTo(HaveOccurred(), "the live session was collected")

	// A second Tenant pointed at the same schema is refused, and is not
	// Ready: its issuer would share (and could end) the first one's
	// sessions.
	ns2 := newNamespace(t, nil)
	create(t, databaseSecret(ns2, "db", dbURL), postgresTenant(ns2, "shop", "db", schema))
	shop := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: ns2, Name: "shop"}}
	eventually(t, func(g Gomega) {
		c := condition(g, shop, v1alpha1.ConditionStateReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonStateSchemaInUse))
		g.Expect(c.Message).To(ContainSubstring("another Tenant"))
		g.Expect(c.Message).NotTo(ContainSubstring(ns), "another namespace's Tenant named to this one's editors")
		r := condition(g, shop, v1alpha1.ConditionReady)
		g.Expect(r.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(r.Reason).To(Equal("State" + v1alpha1.ReasonStateSchemaInUse))
		// Its issuer is never started on acme's tables, nor told where
		// they are.
		g.Expect(readConfig(g, ns2, "shop").StateDatabase).To(BeNil())
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns2, Name: "shop-issuer"}, &appsv1.Deployment{})).NotTo(Succeed())
	})

	// A new password (the Secret rotated) rolls the issuers: they open
	// their pool once.
	u.User = url.UserPassword("postgres", "rotated-"+password)
	secret := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-db"}, secret)).To(Succeed())
	update(t, secret, func(s *corev1.Secret) { s.Data = map[string][]byte{"url": []byte(u.String())} })
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
		g.Expect(dep.Spec.Template.Annotations[render.AnnotationStateDatabase]).NotTo(Equal(rolled))
		g.Expect(readConfig(g, ns, "acme").StateDatabase.URL).To(Equal(u.String()))
	})
	rolled = dep.Spec.Template.Annotations[render.AnnotationStateDatabase]

	// The Secret goes away (a GitOps prune, a rotation by delete and
	// create): StateReady says so, and the issuers keep the database they
	// have; no rollout to Pods that could not start.
	g.Expect(k8s.Delete(ctx, secret)).To(Succeed())
	eventually(t, func(g Gomega) {
		c := condition(g, tn, v1alpha1.ConditionStateReady)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonStateSecretMissing))
	})
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
	g.Expect(dep.Spec.Template.Annotations[render.AnnotationStateDatabase]).To(Equal(rolled))
	eventually(t, func(g Gomega) { g.Expect(readConfig(g, ns, "acme").StateDatabase.URL).To(Equal(u.String())) })
}

// TestTenantPostgreSQLProblems: every way the database can be unusable
// has its StateReady reason and a message that says what to do, and none
// of them shows the URL.
func TestTenantPostgreSQLProblems(t *testing.T) {
	ns := newNamespace(t, nil)
	const password = "s3cret-pw-never-shown"
	create(t, postgresTenant(ns, "acme", "db", ""))
	tn := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"}}
	expectState := func(reason string, says ...string) {
		t.Helper()
		eventually(t, func(g Gomega) {
			c := condition(g, tn, v1alpha1.ConditionStateReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(reason))
			for _, s := range says {
				g.Expect(c.Message).To(ContainSubstring(s))
			}
			g.Expect(c.Message).NotTo(ContainSubstring(password))
			r := condition(g, tn, v1alpha1.ConditionReady)
			g.Expect(r.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(r.Reason).To(Equal("State" + reason))
		})
	}
	expectState(v1alpha1.ReasonStateSecretMissing, "Secret "+ns+"/db", "does not exist")

	secret := databaseSecret(ns, "db", "host=db user=x password="+password+" this is not a URL '")
	create(t, secret)
	expectState(v1alpha1.ReasonStateSecretMissing, `key "url"`, "not a PostgreSQL connection URL")

	update(t, secret, func(s *corev1.Secret) {
		s.Data = map[string][]byte{"url": []byte("postgres://idtenant:" + password + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")}
	})
	expectState(v1alpha1.ReasonStateUnreachable, "did not answer")
	// Never vetted: no issuer was started on it.
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, &appsv1.Deployment{}); err == nil {
		t.Error("an issuer Deployment exists though no database was ever usable")
	}
	events := events(t, ns)
	raw, _ := json.Marshal(events)
	if strings.Contains(string(raw), password) {
		t.Fatal("an event carries the database password")
	}
}

// events are the events recorded in ns so far.
func events(t *testing.T, ns string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}
