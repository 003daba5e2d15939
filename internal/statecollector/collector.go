// Package statecollector deletes expired issuer state records of every
// Tenant that uses the Kubernetes or PostgreSQL store, and counts what
// remains, for Tenant status and metrics. It runs in the manager as a leader-elected Runnable:
// issuers hold no list rights on their records, so the operator collects
// for them. When a record expires is not decided here: the Kubernetes
// backend says so for each of its kinds (internal/issuer/store/kube,
// expiry.go), from the same rules the issuer applies.
//
// It must not write Tenant status: it keeps its numbers in Observations and
// wakes the Tenant reconciler, which computes the whole status in one place.
package statecollector

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/kube"
	"github.com/idtenant/idtenant/internal/lifetime"
	"github.com/idtenant/idtenant/internal/statedb"
)

// The collector deletes expired records, so it must hold delete and list;
// create, get and update only because the issuer's Role grants them (RBAC
// forbids granting what one does not hold). No watch: records are never
// cached in the manager. The rule is in controllers/manager/rbac.go: records
// live in Tenant namespaces only.

// Collector deletes expired issuer state records of every Tenant with
// the Kubernetes or PostgreSQL store and counts what remains. It runs on
// the leader only. What follows describes the Kubernetes store; a
// PostgreSQL store is collected in one bounded pass per round
// (postgres.go).
//
// Every Period, a pass starts over each such Tenant's records (unless one
// is still in progress): it lists them from the API server, a page at a time, never through the manager's
// cache (a tenant may hold 100,000 sessions, which must not sit in the
// manager's memory), counts them and deletes the expired ones. Every
// delete is conditional on the listed resourceVersion: a session an issuer
// touched meanwhile is kept.
//
// The API server's work per round is bounded whatever the number of
// records: a round lists at most ListBudget records and sends at most
// Budget deletes, over all Tenants. A pass the list budget stops is
// resumed BusyPeriod later from the continue token where it stopped, never
// from its first page, so a pass lists each record once. Expired records
// beyond the delete budget are counted as awaiting collection and left; a
// pass that left some is followed by another BusyPeriod later instead of
// Period, so a large backlog drains over several rounds instead of
// flooding the API server. Which Tenant spends the budgets first rotates
// from round to round.
//
// Numbers come from complete passes only: while a pass is in progress the
// last complete pass's numbers stand (a partial count is no total), except
// that a backlog the pass has already found raises awaitingCollection and
// oldestExpiredAge at once.
//
// It writes no status: it keeps its numbers in memory and wakes the Tenant
// reconciler, which computes the whole status in one place.
type Collector struct {
	// API lists records from the API server, never a cache; Writer
	// deletes them; Tenants lists Tenants (from the manager's cache).
	API     client.Reader
	Writer  client.Writer
	Tenants client.Reader
	// Now is the clock of expiry; time.Now when nil.
	Now     func() time.Time
	Options Options
	// Observations receives each pass's numbers; Wake tells the Tenant
	// reconciler (nil: nobody to tell).
	Observations *Observations
	Wake         chan<- event.TypedGenericEvent[client.Object]
	// Namespaces, when set, are the only namespaces whose Tenants are
	// served (and where the operator may list records).
	Namespaces []string
	// Databases holds the connections to Tenants' PostgreSQL stores (nil:
	// none are collected).
	Databases *statedb.Databases

	// rotation picks the Tenant that spends the budgets first.
	rotation int
	// progress is each Tenant's pass and last numbers.
	progress map[types.NamespacedName]*tenantProgress
	// woken is what each Tenant's status was last told, and when.
	woken map[types.NamespacedName]wokenWith
	// exported are the Tenants with metric series.
	exported map[types.NamespacedName]bool
}

type wokenWith struct {
	status v1alpha1.StateStatus
	at     time.Time
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// NeedLeaderElection: one collector in the cluster.
func (c *Collector) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable: a full round, which starts a pass
// over every Tenant not in one, every Period; while passes are unfinished
// or left a backlog for lack of budget, a round BusyPeriod after the last.
func (c *Collector) Start(ctx context.Context) error {
	c.Options = c.Options.withDefaults()
	full := true
	nextFull := time.Now()
	for {
		busy, err := c.round(ctx, full)
		if err != nil {
			log.FromContext(ctx).Error(err, "collecting issuer state records; retrying next period")
		}
		if full {
			nextFull = time.Now().Add(c.Options.Period)
		}
		wait := time.Until(nextFull)
		if busy && c.Options.BusyPeriod < wait {
			wait = c.Options.BusyPeriod
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		full = !time.Now().Before(nextFull)
	}
}

// round advances the passes in progress and, in a full round, starts one
// over every Tenant with the Kubernetes store that is not in one; busy says
// a pass is unfinished or left a backlog for lack of delete budget.
func (c *Collector) round(ctx context.Context, full bool) (busy bool, err error) {
	var list v1alpha1.TenantList
	listedAt := c.now()
	if err := c.Tenants.List(ctx, &list); err != nil {
		return false, fmt.Errorf("listing Tenants: %w", err)
	}
	if c.progress == nil {
		c.progress = map[types.NamespacedName]*tenantProgress{}
	}
	var tenants []*v1alpha1.Tenant
	present := map[types.NamespacedName]bool{}
	for i := range list.Items {
		t := &list.Items[i]
		backend := lifetime.ForTenant(t.Name, t.Spec).StateType
		if !t.DeletionTimestamp.IsZero() || backend == v1alpha1.StateMemory || !(len(c.Namespaces) == 0 || slices.Contains(c.Namespaces, t.Namespace)) {
			continue
		}
		key := client.ObjectKeyFromObject(t)
		present[key] = true
		p := c.progress[key]
		if p == nil || p.uid != t.UID || p.backend != backend {
			// New, deleted and created again, or moved to another store:
			// nothing carries over.
			p = &tenantProgress{uid: t.UID, backend: backend}
			c.progress[key] = p
			if c.Observations != nil {
				c.Observations.Forget(key)
			}
		}
		if backend == v1alpha1.StatePostgreSQL && !c.canCollectPostgres(t) {
			// Not checked yet, or its database unusable (StateReady says
			// why): nothing to count, and no hurry to look again.
			p.pass, p.again = nil, false
			continue
		}
		if p.pass == nil && (full || p.again) {
			p.pass, p.again = &pass{}, false
		}
		if p.pass != nil {
			tenants = append(tenants, t)
		}
	}
	c.forgetAllBut(present)
	if c.Databases != nil {
		c.Databases.Retain(present, listedAt)
	}
	if len(tenants) == 0 {
		return false, nil
	}
	slices.SortFunc(tenants, func(a, b *v1alpha1.Tenant) int {
		return compareKeys(client.ObjectKeyFromObject(a), client.ObjectKeyFromObject(b))
	})
	c.rotation++
	first := c.rotation % len(tenants)
	tenants = slices.Concat(tenants[first:], tenants[:first])
	b := budgets{list: c.Options.ListBudget, deletes: c.Options.Budget}
	for _, t := range tenants {
		p := c.progress[client.ObjectKeyFromObject(t)]
		var done bool
		if p.backend == v1alpha1.StatePostgreSQL {
			done, err = c.collectPostgres(ctx, t, p.pass)
		} else {
			done, err = c.advance(ctx, t, p.pass, &b)
		}
		if p.failed = err != nil; p.failed {
			// The pass keeps its place and this tenant its last numbers;
			// the others go on.
			log.FromContext(ctx).Error(err, "collecting issuer state records", "tenant", klog.KObj(t))
		}
		switch {
		case done:
			found := p.pass.found
			p.last, p.lastAt, p.again, p.pass = &found, c.now(), p.pass.skipped > 0, nil
			c.publish(ctx, t, found, found.status(p.lastAt))
		case p.last != nil:
			// Unfinished: the last numbers stand, but a backlog found
			// meanwhile shows at once.
			if raised, ok := p.last.raisedBy(&p.pass.found); ok {
				st := raised.status(c.now())
				st.LastCollectedAt = &metav1.Time{Time: p.lastAt.Truncate(time.Second)}
				c.publish(ctx, t, raised, st)
			}
		}
	}
	for _, p := range c.progress {
		busy = busy || p.again || (p.pass != nil && !p.failed)
	}
	return busy, nil
}

// advance continues tenant's pass p while the list budget lasts, counting
// every record listed and deleting expired ones while the delete budget
// lasts; done says p is complete.
func (c *Collector) advance(ctx context.Context, tenant *v1alpha1.Tenant, p *pass, b *budgets) (done bool, err error) {
	eff := lifetime.ForTenant(tenant.Name, tenant.Spec)
	// Deadlines follow the settings in force now, as the issuer's.
	sessionEnds := func(authTime, lastActivity time.Time) time.Time {
		return eff.Session.DeadlinesOf(authTime, lastActivity).Idle // never after Absolute: the first to pass
	}
	for p.kind < len(kube.Kinds) {
		if b.list <= 0 {
			return false, nil
		}
		i, kind := p.kind, kube.Kinds[p.kind]
		list := kind.NewList()
		err := c.API.List(ctx, list, client.InNamespace(tenant.Namespace),
			client.MatchingLabels{statev1alpha1.TenantLabel: tenant.Name},
			client.Limit(min(c.Options.PageSize, int64(b.list))), client.Continue(p.cont))
		if err != nil {
			if p.cont != "" && (apierrors.IsResourceExpired(err) || apierrors.IsGone(err)) {
				b.list-- // a refused request is work too, and bounds retries
				p.expired(err)
				continue
			}
			return false, fmt.Errorf("listing %s records: %w", kind.Name, err)
		}
		records := kind.Classify(list, sessionEnds, c.now())
		b.list -= max(len(records), 1)
		c.exporting(tenant)
		stateListedTotal.WithLabelValues(tenant.Namespace, tenant.Name, kind.Name).Add(float64(len(records)))
		if p.cont = list.GetContinue(); p.cont == "" {
			p.kind++
		}
		// The page is counted whatever its deletes do: a failure keeps
		// its records awaiting, and the pass goes on from the next page.
		if err := c.collectPage(ctx, tenant, kind, records, &p.found[i], &b.deletes, &p.skipped); err != nil {
			return false, err
		}
	}
	return true, nil
}

// collectPage counts a page's records and deletes as many expired ones as
// the budget allows, Workers at a time; the others await the next pass,
// and are counted in skipped.
func (c *Collector) collectPage(ctx context.Context, tenant *v1alpha1.Tenant, kind kube.Kind, records []kube.Collectable, tally *kindTally, budget *int, skipped *int64) error {
	var doomed []kube.Collectable
	for _, r := range records {
		switch {
		case r.ExpiredAt.IsZero():
			tally.live++
			if r.Counted {
				tally.counted++
			}
		case *budget > 0:
			*budget--
			doomed = append(doomed, r)
		default:
			tally.expired(r.ExpiredAt)
			*skipped++
		}
	}
	results := make([]error, len(doomed))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(c.Options.Workers, len(doomed)) {
		wg.Go(func() {
			for i := range next {
				obj := doomed[i].Object
				uid, rv := obj.GetUID(), obj.GetResourceVersion()
				results[i] = c.Writer.Delete(ctx, obj, client.Preconditions{UID: &uid, ResourceVersion: &rv})
			}
		})
	}
	for i := range doomed {
		next <- i
	}
	close(next)
	wg.Wait()

	var failed []error
	for i, err := range results {
		switch {
		case err == nil:
			tally.collected++
			stateCollectedTotal.WithLabelValues(tenant.Namespace, tenant.Name, kind.Name).Inc()
		case apierrors.IsNotFound(err):
			// Deleted meanwhile (an issuer ended it): gone either way.
		case apierrors.IsConflict(err):
			// Changed since it was listed (a session touched, a family
			// rotated): in use after all; the next pass looks again.
			tally.live++
			if kind.Kind == store.KindSession || kind.Kind == store.KindFamily {
				tally.counted++
			}
		default:
			tally.expired(doomed[i].ExpiredAt)
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("deleting %d expired %s records (first error): %w", len(failed), kind.Name, failed[0])
	}
	return nil
}

// publish hands numbers to metrics and status: found and st, its summary.
func (c *Collector) publish(ctx context.Context, tenant *v1alpha1.Tenant, found tally, st v1alpha1.StateStatus) {
	key := client.ObjectKeyFromObject(tenant)
	now := c.now()
	if st.Collected > 0 || st.AwaitingCollection > 0 {
		log.FromContext(ctx).Info("issuer state collected", "tenant", klog.KObj(tenant), "collected", st.Collected,
			"awaiting", st.AwaitingCollection, "sessions", st.Sessions, "refreshFamilies", st.RefreshFamilies)
	}
	if p := c.progress[key]; p != nil {
		st.Backend = p.backend
	}
	c.exporting(tenant)
	exportStateMetrics(tenant, found, st)
	if c.Observations != nil {
		c.Observations.set(tenant, st)
	}
	if c.Wake == nil {
		return
	}
	if c.woken == nil {
		c.woken = map[types.NamespacedName]wokenWith{}
	}
	last, seen := c.woken[key]
	if seen && !(stateChanged(last.status, st) && now.Sub(last.at) >= c.Options.StatusInterval) {
		return
	}
	select {
	case c.Wake <- event.TypedGenericEvent[client.Object]{Object: &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}:
		c.woken[key] = wokenWith{status: st, at: now}
	case <-ctx.Done():
	}
}

// exporting notes that tenant has metric series, for forgetAllBut.
func (c *Collector) exporting(tenant *v1alpha1.Tenant) {
	if c.exported == nil {
		c.exported = map[types.NamespacedName]bool{}
	}
	c.exported[client.ObjectKeyFromObject(tenant)] = true
}

// stateChanged reports whether status published as before would now say
// something else worth a write: a count, or the backlog's age by a minute
// or more. The pass time alone is not worth waking a Tenant for.
func stateChanged(before, now v1alpha1.StateStatus) bool {
	age := before.OldestExpiredAge.Duration - now.OldestExpiredAge.Duration
	return before.Sessions != now.Sessions || before.RefreshFamilies != now.RefreshFamilies ||
		before.AwaitingCollection != now.AwaitingCollection || before.Collected != now.Collected ||
		age >= time.Minute || age <= -time.Minute
}

// forgetAllBut drops passes, numbers and metric series of Tenants that are
// gone or no longer use the Kubernetes store.
func (c *Collector) forgetAllBut(present map[types.NamespacedName]bool) {
	for key := range c.progress {
		if !present[key] {
			delete(c.progress, key)
		}
	}
	for key := range c.exported {
		if !present[key] {
			deleteStateMetrics(key)
			delete(c.exported, key)
			delete(c.woken, key)
			if c.Observations != nil {
				c.Observations.Forget(key)
			}
		}
	}
}
