package postgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres/pgtest"
	"github.com/idtenant/idtenant/internal/issuer/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open returns a store on a fresh, migrated schema of a fresh database.
func open(t *testing.T) *Store {
	t.Helper()
	cfg := Config{URL: pgtest.Database(t), Schema: DefaultSchema("team-a", "acme")}
	if _, err := Migrate(t.Context(), cfg, "uid-1", "acme"); err != nil {
		t.Fatal(err)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestConformance runs the shared table every backend passes, on a real
// PostgreSQL server; every case shares one schema, as replicas do.
func TestConformance(t *testing.T) {
	s := open(t)
	storetest.Run(t, func(*testing.T) store.Store { return s })
}

// TestMigrateUpgradesWithoutLosingASession builds a schema at the previous
// version, stores a session and a refresh family through the store, and
// migrates: both are still there, at the same version, and the new
// version is recorded.
func TestMigrateUpgradesWithoutLosingASession(t *testing.T) {
	cfg := Config{URL: pgtest.Database(t), Schema: "idtenant_upgrade"}
	pc, err := PoolConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(t.Context(), "CREATE SCHEMA idtenant_upgrade"); err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(t.Context(), pool, SchemaVersion-1); err != nil {
		t.Fatal(err)
	}
	old := newStore(pool, 0)
	if v, err := old.Version(t.Context()); err != nil || v != SchemaVersion-1 {
		t.Fatalf("version before the upgrade: %d, %v; want %d", v, err, SchemaVersion-1)
	}
	now := time.Now().UTC().Truncate(time.Second)
	sessionKey := store.Key([]byte("k"), store.KindSession, "cookie")
	sess, err := old.Sessions().Create(t.Context(), sessionKey, store.Session{SID: "sid", Subject: "alice", AuthTime: now, LastActivity: now, UserFingerprint: "fp"})
	if err != nil {
		t.Fatal(err)
	}
	familyKey := store.Key([]byte("k"), store.KindFamily, "family")
	fam, err := old.Families().Create(t.Context(), familyKey, store.RefreshFamily{ClientID: "web", Subject: "alice", SessionKey: sessionKey,
		AuthTime: now, GrantedAt: now, LastUsed: now, Current: "digest", ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	m, err := Migrate(t.Context(), cfg, "uid-1", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if m.From != SchemaVersion-1 || m.To != SchemaVersion {
		t.Fatalf("migration %+v, want from %d to %d", m, SchemaVersion-1, SchemaVersion)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Sessions().Get(t.Context(), sessionKey)
	if err != nil || got.Version != sess.Version || got.Value.Subject != "alice" {
		t.Fatalf("session after the upgrade: %+v, %v; want the one stored at version %s", got, err, sess.Version)
	}
	// The session still works: it can be touched at the version read.
	got.Value.LastActivity = now.Add(time.Minute)
	if _, err := s.Sessions().Update(t.Context(), got); err != nil {
		t.Fatalf("touching the session after the upgrade: %v", err)
	}
	if f, err := s.Families().Get(t.Context(), familyKey); err != nil || f.Version != fam.Version {
		t.Fatalf("refresh family after the upgrade: %+v, %v", f, err)
	}
	// Migrating again changes nothing.
	if m, err := Migrate(t.Context(), cfg, "uid-1", "acme"); err != nil || m.From != SchemaVersion || m.To != SchemaVersion {
		t.Fatalf("second migration: %+v, %v", m, err)
	}
}

// TestSchemaBelongsToOneTenant: a second Tenant pointed at a schema that
// holds another's state is refused, naming the owner.
func TestSchemaBelongsToOneTenant(t *testing.T) {
	cfg := Config{URL: pgtest.Database(t), Schema: "shared"}
	if _, err := Migrate(t.Context(), cfg, "uid-1", "team-a/acme"); err != nil {
		t.Fatal(err)
	}
	_, err := Migrate(t.Context(), cfg, "uid-2", "team-b/shop")
	if !errors.Is(err, ErrSchemaOwned) {
		t.Fatalf("second Tenant on one schema: %v, want ErrSchemaOwned", err)
	}
	t.Log(err)
}

// TestRecreatedTenantTakesOverItsSchema: a Tenant deleted and created
// again (GitOps, a restore) has a new uid but the same namespace and name:
// it takes its schema over instead of being locked out of it.
func TestRecreatedTenantTakesOverItsSchema(t *testing.T) {
	cfg := Config{URL: pgtest.Database(t), Schema: "acme"}
	if m, err := Migrate(t.Context(), cfg, "uid-1", "team-a/acme"); err != nil || m.Adopted {
		t.Fatalf("first claim: %+v, %v", m, err)
	}
	m, err := Migrate(t.Context(), cfg, "uid-2", "team-a/acme")
	if err != nil || !m.Adopted {
		t.Fatalf("the recreated Tenant: %+v, %v; want it to take the schema over", m, err)
	}
	// And now the old uid is the stranger.
	if _, err := Migrate(t.Context(), cfg, "uid-1", "team-a/other"); !errors.Is(err, ErrSchemaOwned) {
		t.Fatalf("another Tenant after the takeover: %v", err)
	}
}

// TestMigrateLeavesNothingRunning: a check runs every few minutes per
// Tenant for the operator's lifetime; none may leave a goroutine behind.
func TestMigrateLeavesNothingRunning(t *testing.T) {
	cfg := Config{URL: pgtest.Database(t), Schema: "leak"}
	if _, err := Migrate(t.Context(), cfg, "uid", "a/b"); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for range 20 {
		if _, err := Migrate(t.Context(), cfg, "uid", "a/b"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after 20 checks, %d before", n, before)
	}
}

// TestDefaultSchema: one schema per Tenant, never the same for two, within
// PostgreSQL's 63-byte names.
func TestDefaultSchema(t *testing.T) {
	a, b := DefaultSchema("team-a", "x"), DefaultSchema("team", "a-x")
	if a == b {
		t.Errorf("team-a/x and team/a-x share schema %s", a)
	}
	long := DefaultSchema(strings.Repeat("n", 63), strings.Repeat("t", 253))
	for _, s := range []string{a, b, long} {
		if !ValidSchema(s) {
			t.Errorf("%q is not a valid schema name", s)
		}
	}
	if !strings.HasPrefix(a, "idtenant_team_a_x_") {
		t.Errorf("%q: want it readable", a)
	}
}

// TestURLParametersAreAllowListed: a connection URL may only say where and
// how to connect; parameters that make the parser read files are refused
// (the operator, too, parses what a Tenant editor wrote), and the error
// does not quote the URL.
func TestURLParametersAreAllowListed(t *testing.T) {
	for _, u := range []string{
		"postgres://u:pw-secret@db:5432/idp?sslmode=verify-full&sslrootcert=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
		"postgres://u:pw-secret@db:5432/idp?passfile=/etc/shadow",
		"postgres://u:pw-secret@db:5432/idp?servicefile=/tmp/x&service=a",
		"host=db user=u password=pw-secret sslkey=/etc/ssl/private/key",
	} {
		_, err := PoolConfig(Config{URL: u, Schema: "s"})
		if err == nil {
			t.Errorf("%s: accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
	if _, err := PoolConfig(Config{URL: "postgresql://u:p@db.internal:5432/idp?sslmode=verify-full&connect_timeout=3&application_name=x&target_session_attrs=read-write", Schema: "s"}); err != nil {
		t.Errorf("a URL with the allowed parameters: %v", err)
	}
}

// TestUnmigratedSchemaIsAnOutage: a store whose schema was never migrated
// answers with an error the protocol treats as unavailable (503), naming
// the cause.
func TestUnmigratedSchemaIsAnOutage(t *testing.T) {
	s, err := Open(Config{URL: pgtest.Database(t), Schema: "never_migrated"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Sessions().Get(t.Context(), store.Key([]byte("k"), store.KindSession, "x"))
	if !store.IsUnavailable(err) {
		t.Fatalf("Get on an unmigrated schema: %v, want an outage", err)
	}
	t.Log(err)
}

// TestDatabaseDownIsAnOutageNotAHang: a database that is not there
// answers within the statement timeout with an outage.
func TestDatabaseDownIsAnOutageNotAHang(t *testing.T) {
	s, err := Open(Config{URL: "postgres://idtenant:secret-password@127.0.0.1:1/db?sslmode=disable", Schema: "x", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = s.Codes().Create(ctx, store.Key([]byte("k"), store.KindCode, "x"), store.Code{})
	if !store.IsUnavailable(err) {
		t.Fatalf("Create with the database down: %v, want an outage", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Create hung past the statement timeout")
	}
	if msg := err.Error(); strings.Contains(msg, "secret-password") {
		t.Fatalf("the error carries the password: %s", msg)
	}
}

// TestDatabaseRestart: a database restart cuts every pooled connection;
// once the database is back, the next statements succeed (the store
// empties the pool on the first cut connection it meets instead of
// failing once per idle connection), and what was stored is there.
func TestDatabaseRestart(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skip("restarts a server of its own; " + pgtest.EnvURL + " names one it may not restart")
	}
	pgtest.Shared(t) // skips without PostgreSQL
	srv, err := pgtest.Start(filepath.Join(os.TempDir(), "idtenant-pg"), pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cfg := Config{URL: srv.URL, Schema: "restart", MaxConns: 8, MinConns: 8}
	if _, err := Migrate(t.Context(), cfg, "uid", "acme"); err != nil {
		t.Fatal(err)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = store.Key([]byte("k"), store.KindRevocation, strconv.Itoa(i))
		if _, err := s.Revocations().Create(t.Context(), keys[i], store.Revocation{ClientID: "c", ExpiresAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Restart(0); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if _, err := s.Revocations().Get(t.Context(), k); err != nil {
			t.Fatalf("read %d after the restart: %v", i, err)
		}
	}
	if _, err := s.Revocations().Create(t.Context(), store.Key([]byte("k"), store.KindRevocation, "after"), store.Revocation{ExpiresAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
}
