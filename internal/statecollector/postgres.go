package statecollector

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// Collection of a PostgreSQL store: one pass is a few statements (a
// bounded DELETE by index range per batch, a count per kind), so it never
// spans rounds and spends none of the API server's budgets; its own bounds
// are PostgresBatch rows per statement and PostgresMax per Tenant and
// round. A pass that left rows is followed by another BusyPeriod later.
const (
	PostgresBatch = 1000
	PostgresMax   = 20000
)

// canCollectPostgres says whether the operator has a usable connection to
// tenant's PostgreSQL store (its StateReady condition says why not).
func (c *Collector) canCollectPostgres(tenant *v1alpha1.Tenant) bool {
	if c.Databases == nil {
		return false
	}
	st, check := c.Databases.Store(client.ObjectKeyFromObject(tenant), tenant.UID)
	return st != nil && check.Ready()
}

// collectPostgres runs one pass over tenant's PostgreSQL store; done is
// false when the store became unusable since the round began.
func (c *Collector) collectPostgres(ctx context.Context, tenant *v1alpha1.Tenant, p *pass) (done bool, err error) {
	if c.Databases == nil {
		return false, nil
	}
	st, check := c.Databases.Store(client.ObjectKeyFromObject(tenant), tenant.UID)
	if st == nil || !check.Ready() {
		return false, nil
	}
	eff := lifetime.ForTenant(tenant.Name, tenant.Spec)
	kinds, err := st.Collect(ctx, c.now(), postgres.SessionLimits{Inactivity: eff.Session.Inactivity.Duration, Absolute: eff.Session.Absolute.Duration},
		postgres.CollectLimits{Batch: PostgresBatch, Max: PostgresMax})
	if err != nil {
		return false, fmt.Errorf("collecting the PostgreSQL store: %w", err)
	}
	c.exporting(tenant)
	for i, k := range kinds {
		p.found[i] = kindTally{live: k.Live, counted: k.Counted, awaiting: k.Awaiting, collected: k.Collected, oldestExpired: k.OldestExpired}
		p.skipped += k.Awaiting
		stateCollectedTotal.WithLabelValues(tenant.Namespace, tenant.Name, metricKind(i)).Add(float64(k.Collected))
	}
	return true, nil
}
