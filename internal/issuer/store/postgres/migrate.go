package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// migrations are the schema's versions, embedded in the binary and applied
// in order by goose: forward only (no down migrations are shipped), each
// in its own transaction, recorded in the schema's goose_db_version table.
// goose takes no lock of its own: the operator, one leader, migrates.
//
//go:embed migrations/*.sql
var migrations embed.FS

// SchemaVersion is the schema version this binary migrates to and its
// issuer needs.
const SchemaVersion int64 = 3

// ErrSchemaOwned is returned when a schema already holds another Tenant's
// state.
var ErrSchemaOwned = errors.New("the schema holds another Tenant's state")

// DefaultSchema is the schema of the Tenant name in namespace: one schema
// per Tenant, "idtenant_<namespace>_<name>" with dashes as underscores,
// shortened with a digest to PostgreSQL's 63-byte identifier limit.
//
// The readable part alone could collide (team-a/x and team/a-x both read
// team_a_x), so a digest of the namespace and name always ends it.
func DefaultSchema(namespace, name string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	suffix := "_" + hex.EncodeToString(sum[:])[:8]
	s := strings.NewReplacer("-", "_", ".", "_").Replace("idtenant_" + namespace + "_" + name)
	return s[:min(len(s), 63-len(suffix))] + suffix
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidSchema reports whether s is a schema name this backend accepts:
// lowercase letters, digits and underscores, not starting with a digit, at
// most 63 bytes (so it never needs quoting or case folding).
func ValidSchema(s string) bool { return schemaName.MatchString(s) && !strings.HasPrefix(s, "pg_") }

// Migration is what Migrate found and did.
type Migration struct {
	// From is the schema version before (0: a new schema), To after.
	From, To int64
	// Adopted: the schema was claimed by a deleted Tenant of the same
	// namespace and name, and now is this one's.
	Adopted bool
}

// Migrate brings the schema cfg names to SchemaVersion, creating it if
// needed, and claims it for the Tenant tenantUID (named tenant): a schema
// already claimed by another Tenant is refused with ErrSchemaOwned, so two
// Tenants never share state by mistake. It is safe to run again; it
// changes nothing on a schema already at SchemaVersion.
func Migrate(ctx context.Context, cfg Config, tenantUID, tenant string) (Migration, error) {
	if !ValidSchema(cfg.Schema) {
		return Migration{}, fmt.Errorf("schema %q: want lowercase letters, digits and underscores, at most 63", cfg.Schema)
	}
	pc, err := PoolConfig(cfg)
	if err != nil {
		return Migration{}, err
	}
	pc.MaxConns, pc.MinConns = 1, 0
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return Migration{}, err
	}
	defer pool.Close()
	// Create the schema only when missing: CREATE SCHEMA IF NOT EXISTS
	// still needs the CREATE privilege on the database, which a role
	// given a schema made by its DBA may lack.
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", cfg.Schema).Scan(&exists); err != nil {
		return Migration{}, fmt.Errorf("reading the database's schemas: %w", err)
	}
	if !exists {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{cfg.Schema}.Sanitize()); err != nil {
			return Migration{}, fmt.Errorf("creating schema %s: %w", cfg.Schema, err)
		}
	}
	p, err := provider(pool)
	if err != nil {
		return Migration{}, err
	}
	defer p.Close() // its database/sql handle; the pool is closed above
	from, err := p.GetDBVersion(ctx)
	if err != nil {
		return Migration{}, fmt.Errorf("reading the schema version: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return Migration{From: from, To: from}, fmt.Errorf("migrating schema %s from version %d: %w", cfg.Schema, from, err)
	}
	to, err := p.GetDBVersion(ctx)
	if err != nil {
		return Migration{From: from}, fmt.Errorf("reading the schema version: %w", err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO owner (tenant_uid, tenant) VALUES ($1, $2) ON CONFLICT (singleton) DO NOTHING", tenantUID, tenant); err != nil {
		return Migration{From: from, To: to}, fmt.Errorf("claiming schema %s: %w", cfg.Schema, err)
	}
	var ownerUID, owner string
	if err := pool.QueryRow(ctx, "SELECT tenant_uid, tenant FROM owner").Scan(&ownerUID, &owner); err != nil {
		return Migration{From: from, To: to}, fmt.Errorf("reading schema %s's owner: %w", cfg.Schema, err)
	}
	m := Migration{From: from, To: to}
	switch {
	case ownerUID == tenantUID:
	case owner == tenant:
		// A Tenant of this namespace and name claimed it, and this one has
		// another uid: that Tenant was deleted (names are unique), and this
		// one (recreated by GitOps, restored from a backup) takes over. Its
		// records stay unreachable (another state key) and are collected
		// as they expire.
		tag, err := pool.Exec(ctx, "UPDATE owner SET tenant_uid = $1, claimed_at = now() WHERE tenant_uid = $2", tenantUID, ownerUID)
		if err != nil {
			return m, fmt.Errorf("taking over schema %s: %w", cfg.Schema, err)
		}
		if tag.RowsAffected() != 1 {
			return m, fmt.Errorf("taking over schema %s: claimed meanwhile; try again", cfg.Schema)
		}
		m.Adopted = true
	default:
		// Not naming the other Tenant: its namespace is none of this
		// one's editors' business.
		return m, fmt.Errorf("%w: schema %s holds another Tenant's state; give this Tenant its own schema", ErrSchemaOwned, cfg.Schema)
	}
	return m, nil
}

// migrateTo applies migrations up to version only (tests of upgrades).
func migrateTo(ctx context.Context, pool *pgxpool.Pool, version int64) error {
	p, err := provider(pool)
	if err != nil {
		return err
	}
	defer p.Close()
	_, err = p.UpTo(ctx, version)
	return err
}

// Version reads the schema version of the store's schema (0 before any
// migration) without changing anything: unlike goose's own reading, it
// creates no version table.
func (s *Store) Version(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var table *string
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('goose_db_version')::text").Scan(&table); err != nil {
		return 0, err
	}
	if table == nil {
		return 0, nil
	}
	var v *int64
	if err := s.pool.QueryRow(ctx, "SELECT max(version_id) FROM goose_db_version WHERE is_applied").Scan(&v); err != nil || v == nil {
		return 0, err
	}
	return *v, nil
}

func provider(pool *pgxpool.Pool) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(pool), sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("loading schema migrations: %w", err)
	}
	return p, nil
}
