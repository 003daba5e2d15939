// Package postgres is the PostgreSQL issuer state backend, for Tenants that
// outgrow the API server: every record kind is a table in the Tenant's own
// schema, the record's value a JSON document beside the few columns
// collection needs (expiry, or a session's two activity times), and its
// version a random 63-bit number.
//
// Every operation is one statement on one row by primary key, and every
// transition one conditional statement: Create is an INSERT … ON CONFLICT
// DO NOTHING, Update an UPDATE … WHERE version = $read, Delete a DELETE
// with the same condition. Replicas racing on one record therefore produce
// one winner without locks, transactions spanning statements, advisory
// locks, LISTEN/NOTIFY or server-side functions, so that
// PostgreSQL-compatible distributed databases can serve it too. Only when
// such a statement changes no row does a second read tell ErrNotFound from
// ErrConflict; it changes nothing.
//
// Versions are random rather than counters so that a record deleted and
// created again never matches a version read before the delete.
//
// Keys are the keyed digests package store derives; sealed values (upstream
// identities) stay sealed inside the JSON document. The schema is created
// and migrated by Migrate (the operator runs it before the issuer serves);
// Open only connects.
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// DefaultTimeout bounds each statement, so that an unreachable or
// overloaded database yields an error (and the protocol a 503) rather than
// a hung request.
const DefaultTimeout = 5 * time.Second

// Config is how to reach a Tenant's state.
type Config struct {
	// URL is a libpq connection URL or keyword/value string
	// (postgres://user:password@host:5432/db?sslmode=verify-full).
	// Secret: it carries the password.
	URL string
	// Schema holds the Tenant's tables; it must exist (Migrate creates it).
	Schema string
	// MaxConns and MinConns bound the pool (pgxpool's defaults when 0:
	// max(4, CPUs), 0).
	MaxConns, MinConns int32
	// Timeout bounds each statement (DefaultTimeout when 0).
	Timeout time.Duration
	// ApplicationName is reported to the server (pg_stat_activity).
	ApplicationName string
}

// AllowedURLKeys are the parameters a connection URL may carry.
var AllowedURLKeys = []string{"host", "port", "user", "password", "dbname", "sslmode", "connect_timeout", "application_name", "target_session_attrs"}

// Store is a Tenant's issuer state in PostgreSQL. It is safe for
// concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration

	sessions    *table[store.Session]
	codes       *table[store.Code]
	families    *table[store.RefreshFamily]
	revocations *table[store.Revocation]
	consents    *table[store.Consent]
}

var _ store.Store = (*Store)(nil)

// PoolConfig parses cfg into a pool configuration with the Tenant's schema
// as the search path, so every statement names tables unqualified.
func PoolConfig(cfg Config) (*pgxpool.Config, error) {
	if cfg.Schema == "" {
		return nil, errors.New("postgres store: no schema")
	}
	// The URL comes from a Tenant editor's Secret and is parsed by the
	// operator too: only keys that name where and how to connect, none
	// that makes the parser read a file (sslrootcert, sslcert, sslkey,
	// passfile, servicefile) or a service definition.
	if _, err := pgconn.ParseConfigWithOptions(cfg.URL, pgconn.ParseConfigOptions{ConnStringAllowedKeys: AllowedURLKeys}); err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, fmt.Errorf("postgres store: the connection URL does not parse or uses a parameter other than %s (want postgres://user:password@host:port/database?sslmode=verify-full)", strings.Join(AllowedURLKeys, ", "))
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, errors.New("postgres store: the connection URL does not parse (want postgres://user:password@host:port/database?sslmode=verify-full)")
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.MinConns > 0 {
		pc.MinConns = min(cfg.MinConns, pc.MaxConns)
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = DefaultTimeout
	}
	pc.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	if cfg.ApplicationName != "" {
		pc.ConnConfig.RuntimeParams["application_name"] = cfg.ApplicationName
	}
	// A connection the server dropped (a restart) is found on its next
	// use and replaced; idle ones are checked now and then.
	pc.HealthCheckPeriod = 15 * time.Second
	return pc, nil
}

// Open returns the Tenant's state in the database cfg names. It makes no
// connection yet: the first statement does, and a database that is down
// answers that statement with an error (the protocol's 503), never a hang.
func Open(cfg Config) (*Store, error) {
	pc, err := PoolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	return newStore(pool, cfg.Timeout), nil
}

func newStore(pool *pgxpool.Pool, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	s := &Store{pool: pool, timeout: timeout}
	s.sessions = newTable(s, sessionTable)
	s.codes = newTable(s, codeTable)
	s.families = newTable(s, familyTable)
	s.revocations = newTable(s, revocationTable)
	s.consents = newTable(s, consentTable)
	return s
}

// Close closes every connection.
func (s *Store) Close() { s.pool.Close() }

// Pool is the store's connection pool (collection and status use it).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func (s *Store) Sessions() store.Table[store.Session]       { return s.sessions }
func (s *Store) Codes() store.Table[store.Code]             { return s.codes }
func (s *Store) Families() store.Table[store.RefreshFamily] { return s.families }
func (s *Store) Revocations() store.Table[store.Revocation] { return s.revocations }
func (s *Store) Consents() store.Table[store.Consent]       { return s.consents }

// tableDef is how one record kind is stored: its table and the columns
// beside the value that collection reads (see migrations).
type tableDef[T any] struct {
	kind    store.Kind
	name    string
	columns []string
	values  func(T) []any
}

var (
	sessionTable = tableDef[store.Session]{store.KindSession, "sessions", []string{"auth_time", "last_activity"},
		func(s store.Session) []any { return []any{s.AuthTime, s.LastActivity} }}
	codeTable = tableDef[store.Code]{store.KindCode, "authorization_codes", []string{"expires_at"},
		func(c store.Code) []any { return []any{c.ExpiresAt} }}
	familyTable = tableDef[store.RefreshFamily]{store.KindFamily, "refresh_families", []string{"expires_at", "revoked"},
		func(f store.RefreshFamily) []any { return []any{f.ExpiresAt, !f.RevokedAt.IsZero()} }}
	revocationTable = tableDef[store.Revocation]{store.KindRevocation, "revoked_tokens", []string{"expires_at"},
		func(r store.Revocation) []any { return []any{r.ExpiresAt} }}
	consentTable = tableDef[store.Consent]{store.KindConsent, "consents", []string{"expires_at"},
		func(c store.Consent) []any { return []any{c.ExpiresAt} }}
)

// table is one kind's statements, built once.
type table[T any] struct {
	s                                                *Store
	def                                              tableDef[T]
	get, exists, insert, update, deleteAny, deleteAt string
}

func newTable[T any](s *Store, def tableDef[T]) *table[T] {
	t := &table[T]{s: s, def: def}
	cols, params, sets := "key, version, value", "$1, $2, $3", "version = $3, value = $4"
	for i, c := range def.columns {
		cols += ", " + c
		params += fmt.Sprintf(", $%d", i+4)
		sets += fmt.Sprintf(", %s = $%d", c, i+5)
	}
	t.get = "SELECT version, value FROM " + def.name + " WHERE key = $1"
	t.exists = "SELECT version FROM " + def.name + " WHERE key = $1"
	t.insert = "INSERT INTO " + def.name + " (" + cols + ") VALUES (" + params + ") ON CONFLICT (key) DO NOTHING"
	t.update = "UPDATE " + def.name + " SET " + sets + " WHERE key = $1 AND version = $2"
	t.deleteAny = "DELETE FROM " + def.name + " WHERE key = $1"
	t.deleteAt = "DELETE FROM " + def.name + " WHERE key = $1 AND version = $2"
	return t
}

func (t *table[T]) Get(ctx context.Context, key string) (store.Record[T], error) {
	if err := t.check("get", key); err != nil {
		return store.Record[T]{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.timeout)
	defer cancel()
	var (
		version int64
		raw     []byte
	)
	err := t.s.read(ctx, func() error { return t.s.pool.QueryRow(ctx, t.get, key).Scan(&version, &raw) })
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record[T]{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record[T]{}, t.fail("get", err)
	}
	var value T
	if err := json.Unmarshal(raw, &value); err != nil {
		return store.Record[T]{}, fmt.Errorf("postgres store: get %s: decoding the stored value: %w", t.def.name, err)
	}
	return store.Record[T]{Key: key, Version: formatVersion(version), Value: value}, nil
}

func (t *table[T]) Create(ctx context.Context, key string, value T) (store.Record[T], error) {
	if err := t.check("create", key); err != nil {
		return store.Record[T]{}, err
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return store.Record[T]{}, fmt.Errorf("postgres store: create %s: %w", t.def.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.timeout)
	defer cancel()
	version := newVersion()
	tag, err := t.s.write(ctx, t.insert, append([]any{key, version, raw}, t.def.values(value)...)...)
	if err != nil {
		return store.Record[T]{}, t.fail("create", err)
	}
	if tag.RowsAffected() == 0 {
		return store.Record[T]{}, store.ErrConflict
	}
	return store.Record[T]{Key: key, Version: formatVersion(version), Value: value}, nil
}

func (t *table[T]) Update(ctx context.Context, rec store.Record[T]) (store.Record[T], error) {
	if err := t.check("update", rec.Key); err != nil {
		return store.Record[T]{}, err
	}
	read, ok := parseVersion(rec.Version)
	if !ok {
		return store.Record[T]{}, fmt.Errorf("postgres store: update %s: version %q is not one this store returned", t.def.name, rec.Version)
	}
	raw, err := json.Marshal(rec.Value)
	if err != nil {
		return store.Record[T]{}, fmt.Errorf("postgres store: update %s: %w", t.def.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.timeout)
	defer cancel()
	version := newVersion()
	tag, err := t.s.write(ctx, t.update, append([]any{rec.Key, read, version, raw}, t.def.values(rec.Value)...)...)
	if err != nil {
		return store.Record[T]{}, t.fail("update", err)
	}
	if tag.RowsAffected() == 0 {
		return store.Record[T]{}, t.lost(ctx, rec.Key, store.ErrNotFound)
	}
	return store.Record[T]{Key: rec.Key, Version: formatVersion(version), Value: rec.Value}, nil
}

func (t *table[T]) Delete(ctx context.Context, key, version string) error {
	if err := t.check("delete", key); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.timeout)
	defer cancel()
	if version == "" {
		if _, err := t.s.write(ctx, t.deleteAny, key); err != nil {
			return t.fail("delete", err)
		}
		return nil
	}
	read, ok := parseVersion(version)
	if !ok {
		return fmt.Errorf("postgres store: delete %s: version %q is not one this store returned", t.def.name, version)
	}
	tag, err := t.s.write(ctx, t.deleteAt, key, read)
	if err != nil {
		return t.fail("delete", err)
	}
	if tag.RowsAffected() == 0 {
		return t.lost(ctx, key, nil)
	}
	return nil
}

// lost tells why a conditional write changed no row: the record is there
// at another version (ErrConflict) or gone (missing, which Update reports
// as ErrNotFound and Delete as success).
func (t *table[T]) lost(ctx context.Context, key string, missing error) error {
	var version int64
	err := t.s.read(ctx, func() error { return t.s.pool.QueryRow(ctx, t.exists, key).Scan(&version) })
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return missing
	case err != nil:
		return t.fail("read after a refused write", err)
	}
	return store.ErrConflict
}

// check refuses anything but a key package store derived, before it
// reaches a statement.
func (t *table[T]) check(op, key string) error {
	if !store.ValidKey(key) {
		return fmt.Errorf("postgres store: %s %s: invalid key %q", op, t.def.name, key)
	}
	return nil
}

// fail wraps a database error; it is an outage to the protocol (503). The
// message carries pgx's error, which never includes the password.
func (t *table[T]) fail(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return fmt.Errorf("postgres store: %s %s: the table does not exist: the schema has not been migrated (the operator migrates it before the issuer serves): %w", op, t.def.name, err)
	}
	return fmt.Errorf("postgres store: %s %s: %w", op, t.def.name, err)
}

func newVersion() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	// Positive and never zero, so that it is never mistaken for unset.
	return int64(binary.BigEndian.Uint64(b[:])>>1) | 1
}

func formatVersion(v int64) string { return strconv.FormatInt(v, 10) }

func parseVersion(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}
