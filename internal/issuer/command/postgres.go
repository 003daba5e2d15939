package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// openPostgres opens the PostgreSQL store the configuration names. It does
// not wait for the database: a database that is down makes requests
// answer 503 until it is back, and the pool reconnects by itself. A schema
// older than this issuer needs is logged (the operator migrates it before
// it rolls issuers out, so this means the operator is older or failing:
// see the Tenant's StateReady condition).
func openPostgres(ctx context.Context, doc *issuerconfig.Document, log *slog.Logger) (*postgres.Store, error) {
	db := doc.StateDatabase
	if db == nil {
		return nil, errors.New("--store=postgresql: the issuer configuration names no database yet; see the Tenant's StateReady condition (spec.state.postgreSQL.secretRef)")
	}
	host, _ := os.Hostname()
	st, err := postgres.Open(postgres.Config{URL: db.URL, Schema: db.Schema, MaxConns: db.MaxConnections, MinConns: db.MinConnections,
		ApplicationName: "idtenant-issuer " + host})
	if err != nil {
		return nil, fmt.Errorf("opening the PostgreSQL state store: %w", err)
	}
	switch v, err := st.Version(ctx); {
	case err != nil:
		log.Warn("the PostgreSQL state store does not answer yet; requests that need it get 503 until it does", "schema", db.Schema, "error", err)
	case v < postgres.SchemaVersion:
		log.Warn("the PostgreSQL state schema is older than this issuer needs; the operator migrates it", "schema", db.Schema, "version", v, "need", postgres.SchemaVersion)
	default:
		log.Info("PostgreSQL state store", "schema", db.Schema, "version", v)
	}
	return st, nil
}
