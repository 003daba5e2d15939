package statedb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
)

const url = "postgres://idtenant:very-secret-pw@db.internal:5432/idp?sslmode=verify-full"

// refused is a real connection error: nothing listens on port 1.
func refused(t *testing.T) error {
	_, err := pgconn.Connect(t.Context(), "postgres://idtenant:very-secret-pw@127.0.0.1:1/idp?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("something answers on 127.0.0.1:1")
	}
	return err
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		reason string
		says   string
	}{
		{"schema of another Tenant", fmt.Errorf("%w: schema s belongs to Tenant a/b", postgres.ErrSchemaOwned), v1alpha1.ReasonStateSchemaInUse, "belongs to Tenant a/b"},
		{"wrong password", &pgconn.PgError{Code: "28P01", Message: "password authentication failed for user \"idtenant\""}, v1alpha1.ReasonStateUnreachable, "refused the credentials"},
		{"refused", refused(t), v1alpha1.ReasonStateUnreachable, "did not answer"},
		{"a migration past the bound", fmt.Errorf("migrating schema s from version 2: %w", context.DeadlineExceeded), v1alpha1.ReasonStateMigrationFailed, "did not finish within"},
		{"no privilege", &pgconn.PgError{Code: "42501", Message: "permission denied for database idp"}, v1alpha1.ReasonStateMigrationFailed, "permission denied"},
		{"a driver quoting the password", errors.New("cannot parse host=db password=very-secret-pw"), v1alpha1.ReasonStateMigrationFailed, "<redacted>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg := classify(postgres.Config{URL: url}, tc.err)
			if reason != tc.reason || !strings.Contains(msg, tc.says) {
				t.Errorf("classify: %s %q, want %s saying %q", reason, msg, tc.reason, tc.says)
			}
			if strings.Contains(msg, "very-secret-pw") {
				t.Errorf("the message shows the password: %q", msg)
			}
		})
	}
}

// fakeClock is a clock tests move.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestObserve: the first look at a database is Checking and starts one
// check in the background, which wakes the Tenant; the outcome stands
// until it is due again (sooner after a failure); a new configuration
// starts over; a migration is announced once.
func TestObserve(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	d := New(clock.Now)
	var calls int
	var mu sync.Mutex
	result := error(nil)
	d.migrate = func(context.Context, postgres.Config, string, string) (postgres.Migration, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return postgres.Migration{From: 0, To: postgres.SchemaVersion}, result
	}
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "acme", UID: "u1"}}
	cfg := postgres.Config{URL: url, Schema: "idtenant_team_a_acme"}
	c, news := d.ObserveNews(tenant, cfg)
	if c.Reason != v1alpha1.ReasonStateChecking || news != nil {
		t.Fatalf("first look: %+v %v, want Checking", c, news)
	}
	key := types.NamespacedName{Namespace: "team-a", Name: "acme"}
	if _, ok := d.Usable(key, "u1"); ok {
		t.Fatal("a configuration is usable before its first check")
	}
	select {
	case ev := <-d.Wake():
		if ev.Object.GetName() != "acme" || ev.Object.GetNamespace() != "team-a" {
			t.Fatalf("woke %s/%s", ev.Object.GetNamespace(), ev.Object.GetName())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the check never woke the Tenant")
	}
	c, news = d.ObserveNews(tenant, cfg)
	if !c.Ready() || news == nil || news.Reason != "StateSchemaMigrated" || !strings.Contains(c.Message, fmt.Sprintf("migrated from version 0 to %d", postgres.SchemaVersion)) {
		t.Fatalf("after the check: %+v %+v", c, news)
	}
	if _, news = d.ObserveNews(tenant, cfg); news != nil {
		t.Fatal("a migration announced twice")
	}
	if got, ok := d.Usable(key, "u1"); !ok || got.Schema != cfg.Schema {
		t.Fatalf("usable after a Ready check: %+v %v", got, ok)
	}
	// Pool sizes alone change nothing to check, and reach the issuers.
	resized := cfg
	resized.MaxConns = 25
	if c := d.Observe(tenant, resized); !c.Ready() {
		t.Fatalf("new pool sizes: %+v, want the check to stand", c)
	}
	if got, _ := d.Usable(key, "u1"); got.MaxConns != 25 {
		t.Fatalf("usable after new pool sizes: %+v", got)
	}
	cfg = resized
	if d.NextCheck(c) != Recheck {
		t.Errorf("next check in %s, want %s", d.NextCheck(c), Recheck)
	}
	clock.add(Recheck - time.Second)
	d.Observe(tenant, cfg)
	mu.Lock()
	if calls != 1 {
		t.Errorf("%d checks before the recheck was due, want 1", calls)
	}
	result = refused(t)
	mu.Unlock()

	// Due: checked again, and now it fails; a failure is rechecked sooner.
	clock.add(time.Second)
	d.Observe(tenant, cfg)
	<-d.Wake()
	c = d.Observe(tenant, cfg)
	if c.Reason != v1alpha1.ReasonStateUnreachable || d.NextCheck(c) != FailedRecheck {
		t.Fatalf("after a failed check: %+v, next in %s", c, d.NextCheck(c))
	}
	// Another schema: a new database to check; until it is Ready (here it
	// fails), the issuers keep the last one that was.
	good := cfg
	cfg.Schema = "other"
	if c := d.Observe(tenant, cfg); c.Reason != v1alpha1.ReasonStateChecking {
		t.Fatalf("a new configuration: %+v, want Checking", c)
	}
	<-d.Wake()
	if c := d.Observe(tenant, cfg); c.Ready() {
		t.Fatalf("the failing configuration: %+v", c)
	}
	if got, ok := d.Usable(key, "u1"); !ok || got.Schema != good.Schema {
		t.Fatalf("usable while the new configuration fails: %+v %v, want the last good one", got, ok)
	}
	// Retain keeps what was asked about after the Tenant list was taken.
	d.Retain(map[types.NamespacedName]bool{}, clock.Now().Add(-time.Hour))
	if _, ok := d.Usable(key, "u1"); !ok {
		t.Fatal("Retain forgot a Tenant newer than its list")
	}
	d.Retain(map[types.NamespacedName]bool{}, clock.Now().Add(time.Hour))
	if _, ok := d.Usable(key, "u1"); ok {
		t.Fatal("Retain kept a Tenant missing from a newer list")
	}
	d.Forget(key)
	if st, _ := d.Store(key, "u1"); st != nil {
		t.Fatal("a forgotten Tenant still has a store")
	}
}
