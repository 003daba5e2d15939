package tenant

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/statedb"
)

// stateObservation is what the Tenant's PostgreSQL state store looks like
// to this pass; nil with the other stores.
type stateObservation struct {
	// database goes into the issuer configuration (nil while the Secret
	// is missing or unusable).
	database *issuerconfig.StateDatabase
	// check is the last background check's outcome (the StateReady
	// condition); recheck when the next is due.
	check   statedb.Check
	recheck time.Duration
}

// readStateDatabase reads the PostgreSQL store's Secret and the last check
// of its database (statedb: connecting and migrating happen in the
// background, never in a reconcile).
func (r *TenantReconciler) readStateDatabase(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	key := client.ObjectKeyFromObject(tenant)
	spec := tenant.Spec.State
	if obs.effective.StateType != v1alpha1.StatePostgreSQL || spec == nil || spec.PostgreSQL == nil {
		r.Databases.Forget(key)
		return nil
	}
	obs.stateDB = &stateObservation{}
	cfg, problem, err := r.stateDatabaseConfig(ctx, tenant, spec.PostgreSQL)
	switch {
	case err != nil:
		return err
	case problem != "":
		obs.stateDB.check = statedb.Check{Reason: v1alpha1.ReasonStateSecretMissing, Message: problem}
		obs.stateDB.recheck = statedb.FailedRecheck
	default:
		check, news := r.Databases.ObserveNews(tenant, cfg)
		if news != nil {
			r.Recorder.Eventf(tenant, nil, corev1.EventTypeNormal, news.Reason, "Migrate", "%s", news.Message)
		}
		obs.stateDB.check, obs.stateDB.recheck = check, r.Databases.NextCheck(check)
	}
	// The issuers use the last configuration whose check was Ready (this
	// one once it is), never one the operator has not vetted: a Secret
	// that goes missing, a typo, a schema of another Tenant leave them
	// where they are (or, for a new Tenant, not started) while StateReady
	// says why.
	if usable, ok := r.Databases.Usable(key, tenant.UID); ok {
		obs.stateDB.database = &issuerconfig.StateDatabase{URL: usable.URL, Schema: usable.Schema, MaxConnections: usable.MaxConns, MinConnections: usable.MinConns}
	}
	return nil
}

// stateDatabaseConfig reads the database configuration spec names; problem
// says, without the URL (it carries a password), why there is none.
func (r *TenantReconciler) stateDatabaseConfig(ctx context.Context, tenant *v1alpha1.Tenant, pg *v1alpha1.PostgreSQLState) (cfg postgres.Config, problem string, err error) {
	secretKey := client.ObjectKey{Namespace: tenant.Namespace, Name: pg.SecretRef.Name}
	dataKey := pg.SecretRef.Key
	if dataKey == "" {
		dataKey = v1alpha1.DefaultPostgreSQLURLKey
	}
	read, err := r.users.readData(ctx, r.APIReader, secretKey)
	switch {
	case apierrors.IsNotFound(err):
		return cfg, fmt.Sprintf("Secret %s named in spec.state.postgreSQL.secretRef does not exist.", secretKey), nil
	case err != nil:
		return cfg, "", fmt.Errorf("getting the state database Secret %s: %w", secretKey, err)
	case read.labels[issuerconfig.LabelManagedBy] == issuerconfig.ManagedByValue:
		return cfg, fmt.Sprintf("Secret %s is one of idtenant's own (%s=%s); the database URL must be in a Secret of yours.", secretKey, issuerconfig.LabelManagedBy, issuerconfig.ManagedByValue), nil
	case len(read.data[dataKey]) == 0:
		return cfg, fmt.Sprintf("Secret %s has no key %q (spec.state.postgreSQL.secretRef.key).", secretKey, dataKey), nil
	}
	cfg = postgres.Config{URL: strings.TrimSpace(string(read.data[dataKey])), Schema: pg.Schema,
		MaxConns: v1alpha1.DefaultPostgreSQLMaxConnections}
	if cfg.Schema == "" {
		cfg.Schema = postgres.DefaultSchema(tenant.Namespace, tenant.Name)
	}
	if pg.MaxConnections != nil {
		cfg.MaxConns = *pg.MaxConnections
	}
	if pg.MinConnections != nil {
		cfg.MinConns = *pg.MinConnections
	}
	if _, err := postgres.PoolConfig(cfg); err != nil {
		// The user's problem, reported in status; the parser's text may
		// quote the password, so it is not passed on.
		return cfg, fmt.Sprintf("The value of key %q in Secret %s is not a PostgreSQL connection URL (postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=verify-full).", dataKey, secretKey), nil //nolint:nilerr // reported in status, see above
	}
	return cfg, "", nil
}

// stateDatabaseDigest identifies the database and schema the issuers use,
// for their pod template: keyed with the Tenant's state key, so that the
// digest of a URL tells nothing about its password.
func stateDatabaseDigest(db *issuerconfig.StateDatabase, stateKey []byte) string {
	if db == nil {
		return ""
	}
	mac := hmac.New(sha256.New, stateKey)
	fmt.Fprintf(mac, "%s\x00%s\x00%d\x00%d", db.URL, db.Schema, db.MaxConnections, db.MinConnections)
	return hex.EncodeToString(mac.Sum(nil))[:16]
}

// stateProblem keeps the Tenant from Ready while its PostgreSQL store is
// not usable: the issuer would answer every login with 503.
func stateProblem(obs tenantObservation) *status.Problem {
	if obs.stateDB == nil || obs.stateDB.check.Ready() {
		return nil
	}
	c := obs.stateDB.check
	return &status.Problem{Reason: "State" + c.Reason, Message: c.Message}
}
