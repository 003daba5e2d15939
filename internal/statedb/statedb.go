// Package statedb is the operator's side of the PostgreSQL state store: for
// each Tenant that uses one it checks the database in the background
// (connects, creates and migrates the schema, claims it for the Tenant) and
// keeps a small pool open for the state collector. The Tenant reconciler
// reads the last check's outcome and never waits for the database; the
// collector deletes expired rows through the pool. Both run on the leader
// only, so one operator migrates and collects.
package statedb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
)

// How often a database is checked again: a working one every few minutes
// (its reachability shows in StateReady), a failing one sooner, so that a
// fix shows quickly. A check, migration included, is bounded by
// checkTimeout; concurrentChecks bound the checks in flight for the whole
// operator.
const (
	Recheck       = 5 * time.Minute
	FailedRecheck = 30 * time.Second
	// checkTimeout bounds a whole check, migrations included (an index
	// built over millions of rows takes minutes); connecting is bounded
	// by the URL's connect_timeout (5 s by default).
	checkTimeout     = 10 * time.Minute
	concurrentChecks = 4
	// collectorConns is the collector's pool size per Tenant.
	collectorConns = 2
)

// Check is the outcome of the last check of a Tenant's database.
type Check struct {
	// At is when it ended; zero while the first check is under way.
	At time.Time
	// Reason is one of the StateReady reasons (v1alpha1.ReasonState*),
	// Message says what to do; neither ever carries the URL's password.
	Reason, Message string
	// Migration is what the check found and did to the schema.
	Migration postgres.Migration
}

// Ready reports whether the database answered and its schema is current.
func (c Check) Ready() bool { return c.Reason == v1alpha1.ReasonStateReady }

// Databases checks the Tenants' databases. The zero value is not usable:
// use New.
type Databases struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*database
	// good is each Tenant's last configuration whose check was Ready: what
	// its issuers keep using while a newer one is being checked or fails
	// (a rotated Secret, a typo), so that no issuer is pointed at a
	// database, or a schema, the operator has not vetted.
	good map[types.NamespacedName]goodConfig
	// slots bounds the checks in flight.
	slots chan struct{}
	// wake tells the Tenant reconciler a check ended; sends never block.
	wake chan event.TypedGenericEvent[client.Object]
	now  func() time.Time
	// migrate is postgres.Migrate (replaced in tests).
	migrate func(ctx context.Context, cfg postgres.Config, tenantUID, tenant string) (postgres.Migration, error)
}

type goodConfig struct {
	uid types.UID
	cfg postgres.Config
}

type database struct {
	// created is when the reconciler first asked about this
	// configuration (Retain keeps what is newer than its Tenant list).
	created time.Time
	uid     types.UID
	digest  string
	cfg     postgres.Config
	last    Check
	running bool
	// announced: Observe has returned the last check's migration once.
	announced bool
	// store is open once a check succeeded, for the collector.
	store *postgres.Store
}

// New returns an empty set; now is the clock (time.Now when nil).
func New(now func() time.Time) *Databases {
	if now == nil {
		now = time.Now
	}
	return &Databases{m: map[types.NamespacedName]*database{}, good: map[types.NamespacedName]goodConfig{}, slots: make(chan struct{}, concurrentChecks),
		wake: make(chan event.TypedGenericEvent[client.Object], 256), now: now, migrate: postgres.Migrate}
}

// Wake delivers the Tenants whose check ended.
func (d *Databases) Wake() <-chan event.TypedGenericEvent[client.Object] { return d.wake }

// Observe returns the last check of tenant's database cfg and starts a new
// one in the background when there is none for this configuration, or the
// last is older than Recheck (FailedRecheck after a failure). A new
// database or schema (another URL, credentials included) forgets the old
// one's outcome: the first check of it is Checking. New pool sizes alone
// are taken as they are.
func (d *Databases) Observe(tenant *v1alpha1.Tenant, cfg postgres.Config) Check {
	c, _ := d.ObserveNews(tenant, cfg)
	return c
}

// News is what a check did that deserves an Event, once.
type News struct {
	Reason, Message string
}

// ObserveNews is Observe that also returns, once per check, what the
// check did to the schema (migrated it, took it over), for an Event.
func (d *Databases) ObserveNews(tenant *v1alpha1.Tenant, cfg postgres.Config) (Check, *News) {
	key := client.ObjectKeyFromObject(tenant)
	digest := configDigest(cfg)
	d.mu.Lock()
	db := d.m[key]
	var stale *postgres.Store
	if db != nil && db.uid == tenant.UID && db.digest == digest {
		// The same database and schema: new pool sizes need no check.
		db.cfg = cfg
		if g, ok := d.good[key]; ok && g.uid == tenant.UID && configDigest(g.cfg) == digest {
			d.good[key] = goodConfig{uid: g.uid, cfg: cfg}
		}
	}
	if db == nil || db.uid != tenant.UID || db.digest != digest {
		if db != nil {
			stale = db.store
		}
		if g, ok := d.good[key]; ok && g.uid != tenant.UID {
			delete(d.good, key) // a predecessor's
		}
		db = &database{created: d.now(), uid: tenant.UID, digest: digest, cfg: cfg,
			last: Check{Reason: v1alpha1.ReasonStateChecking, Message: fmt.Sprintf("Checking the PostgreSQL database and migrating schema %s.", cfg.Schema)}}
		d.m[key] = db
	}
	due := db.last.At.IsZero() || d.now().Sub(db.last.At) >= d.recheck(db.last)
	if due && !db.running {
		db.running = true
		go d.check(key, db)
	}
	var news *News
	if m := db.last.Migration; db.last.Ready() && !db.announced {
		switch {
		case m.Adopted:
			news = &News{Reason: "StateSchemaAdopted", Message: fmt.Sprintf("PostgreSQL schema %s was claimed by a deleted Tenant of this name and is now this Tenant's; the old records are collected as they expire", cfg.Schema)}
		case m.From != m.To:
			news = &News{Reason: "StateSchemaMigrated", Message: fmt.Sprintf("PostgreSQL schema %s migrated from version %d to %d", cfg.Schema, m.From, m.To)}
		}
		db.announced = true
	}
	last := db.last
	d.mu.Unlock()
	if stale != nil {
		stale.Close() // outside the lock: it waits for statements in flight
	}
	return last, news
}

// Usable is the configuration tenant's issuers should use: the last one
// whose check was Ready (the current one once it is), none before any was.
func (d *Databases) Usable(key types.NamespacedName, uid types.UID) (postgres.Config, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.good[key]
	if !ok || g.uid != uid {
		return postgres.Config{}, false
	}
	return g.cfg, true
}

// NextCheck is how long until Observe would check c's database again.
func (d *Databases) NextCheck(c Check) time.Duration {
	if c.At.IsZero() {
		return FailedRecheck
	}
	return max(d.recheck(c)-d.now().Sub(c.At), time.Second)
}

func (d *Databases) recheck(c Check) time.Duration {
	if c.Ready() {
		return Recheck
	}
	return FailedRecheck
}

// Store returns the open store of the Tenant key with uid, for collection,
// and its last check; nil until a check succeeded.
func (d *Databases) Store(key types.NamespacedName, uid types.UID) (*postgres.Store, Check) {
	d.mu.Lock()
	defer d.mu.Unlock()
	db := d.m[key]
	if db == nil || db.uid != uid {
		return nil, Check{}
	}
	return db.store, db.last
}

// Forget closes and drops what is kept of the Tenant key (deleted, or no
// longer on PostgreSQL).
func (d *Databases) Forget(key types.NamespacedName) {
	d.mu.Lock()
	db := d.m[key]
	delete(d.m, key)
	delete(d.good, key)
	d.mu.Unlock()
	if db != nil && db.store != nil {
		db.store.Close() // outside the lock: it waits for statements in flight
	}
}

// Retain forgets every Tenant not in present, a list of Tenants taken at
// listedAt (deleted Tenants: their reconciler never runs again to say so).
// What the reconciler asked about after listedAt is kept: its Tenant may
// be too new for the list.
func (d *Databases) Retain(present map[types.NamespacedName]bool, listedAt time.Time) {
	d.mu.Lock()
	var gone []types.NamespacedName
	for key, db := range d.m {
		if !present[key] && db.created.Before(listedAt) {
			gone = append(gone, key)
		}
	}
	d.mu.Unlock()
	for _, key := range gone {
		d.Forget(key)
	}
}

func (d *Databases) check(key types.NamespacedName, db *database) {
	d.slots <- struct{}{}
	defer func() { <-d.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	m, err := d.migrate(ctx, db.cfg, string(db.uid), key.String())
	c := Check{At: d.now(), Migration: m}
	if err == nil {
		c.Reason = v1alpha1.ReasonStateReady
		c.Message = fmt.Sprintf("PostgreSQL answered; schema %s is at version %d.", db.cfg.Schema, m.To)
		if m.From != m.To {
			c.Message = fmt.Sprintf("PostgreSQL answered; schema %s was migrated from version %d to %d.", db.cfg.Schema, m.From, m.To)
		}
	} else {
		c.Reason, c.Message = classify(db.cfg, err)
	}
	var open *postgres.Store
	if c.Ready() && db.store == nil {
		cfg := db.cfg
		cfg.MaxConns, cfg.MinConns, cfg.ApplicationName = collectorConns, 0, "idtenant-operator"
		if s, err := postgres.Open(cfg); err == nil {
			open = s
		}
	}
	d.mu.Lock()
	current := d.m[key] == db
	if current {
		db.last, db.running = c, false
		db.announced = false
		if open != nil {
			db.store, open = open, nil
		}
		if c.Ready() {
			d.good[key] = goodConfig{uid: db.uid, cfg: db.cfg}
		}
	}
	d.mu.Unlock()
	if open != nil {
		open.Close() // the configuration changed meanwhile
	}
	if current {
		select {
		case d.wake <- event.TypedGenericEvent[client.Object]{Object: &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}:
		default:
		}
	}
}

// classify turns a failed check into a StateReady reason and a message
// that says what to do, without the URL's password.
func classify(cfg postgres.Config, err error) (reason, message string) {
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
		pgErr      *pgconn.PgError
	)
	msg := scrub(cfg.URL, err.Error())
	switch {
	case errors.Is(err, postgres.ErrSchemaOwned):
		return v1alpha1.ReasonStateSchemaInUse, msg + " (spec.state.postgreSQL.schema)."
	case errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000"):
		return v1alpha1.ReasonStateUnreachable, "PostgreSQL refused the credentials in the Secret: " + msg
	case errors.As(err, &connectErr) || (errors.As(err, &netErr) && !netErr.Timeout()):
		return v1alpha1.ReasonStateUnreachable, "PostgreSQL did not answer: " + msg + "."
	case errors.Is(err, context.DeadlineExceeded):
		return v1alpha1.ReasonStateMigrationFailed, fmt.Sprintf("Migrating the schema did not finish within %s (a lock held by another session?): %s", checkTimeout, msg)
	}
	return v1alpha1.ReasonStateMigrationFailed, "Creating or migrating the schema failed: " + msg
}

// scrub removes the URL's password from a message, should a driver ever
// quote it.
func scrub(url, msg string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil || len(cfg.Password) < 3 {
		return msg
	}
	return strings.ReplaceAll(msg, cfg.Password, "<redacted>")
}

// configDigest identifies what a check checks: the database (URL,
// credentials included) and the schema; not the pool sizes.
func configDigest(cfg postgres.Config) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s", cfg.URL, cfg.Schema))
	return hex.EncodeToString(sum[:])
}
