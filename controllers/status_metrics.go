package controllers

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// The effective lifetimes and the issuer's progress as metrics, so a
// platform team can alert on what status says ("an Application's session
// may last more than 30 days", "a replica is stuck on an old
// generation"). Every series is set from the status just written (or found
// unchanged), never computed apart from it: a gauge and the status it
// mirrors cannot disagree.
var (
	effectiveLifetimeSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idtenant_effective_lifetime_seconds",
		Help: "Effective lifetime in seconds, as the object's status reports it (status.effective): " +
			"token is id, access, refresh_idle, refresh_absolute, session_idle or session_absolute; " +
			"api (<namespace>/<name>) and flow (Standard, Browser) are set for access tokens; tenant is <namespace>/<name> of the Tenant.",
	}, []string{"namespace", "kind", "name", "tenant", "token", "api", "flow"})
	lifetimeClamps = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idtenant_lifetime_clamps",
		Help: "Requested lifetimes the Tenant's policy (mode Clamp) shortened for this object: the LifetimesClamped condition counted.",
	}, []string{"namespace", "kind", "name", "tenant"})
	advisoriesMetric = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idtenant_advisories",
		Help: "Advisories in the object's status.advisories, by reason.",
	}, []string{"namespace", "kind", "name", "tenant", "reason"})
	issuerReplicasMetric = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idtenant_issuer_replicas",
		Help: "Issuer replicas of a Tenant by state: desired (spec), live (reporting through a Lease) and synced (serving the newest configuration generation).",
	}, []string{"namespace", "tenant", "state"})
	issuerGenerationMetric = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idtenant_issuer_config_generation",
		Help: "Configuration generation of a Tenant's issuer by state: rendered (written by the operator) and served (by every live replica; 0 before any).",
	}, []string{"namespace", "tenant", "state"})
)

func init() {
	metrics.Registry.MustRegister(effectiveLifetimeSeconds, lifetimeClamps, advisoriesMetric, issuerReplicasMetric, issuerGenerationMetric)
}

// statusMetrics remembers which series each object set, so that a row that
// disappeared from status (an API removed from spec.apis, an advisory
// resolved) disappears from the metrics, and a deleted object leaves none.
// Deleting by partial match would scan every series of the metric: at
// 5,000 Applications that is 45,000 per reconcile.
type statusMetrics struct {
	mu     sync.Mutex
	series map[metricsOwner]ownedSeries
}

type metricsOwner struct {
	kind string
	key  types.NamespacedName
}

// ownedSeries is what an object last exported: its tenant label, the
// (token, api, flow) of each lifetime and the advisory reasons.
type ownedSeries struct {
	tenant  string
	rows    []rowKey
	reasons []string
}

type rowKey struct{ token, api, flow string }

// lifetimeRow is one effective lifetime of an object.
type lifetimeRow struct {
	rowKey
	seconds int64
}

var objectMetrics = &statusMetrics{series: map[metricsOwner]ownedSeries{}}

// application exports app's status; clamps is how many requested lifetimes
// the policy shortened.
func (m *statusMetrics) application(app *v1alpha1.Application, clamps int) {
	var rows []lifetimeRow
	if e := app.Status.Effective; e != nil {
		if e.IDToken != nil {
			rows = append(rows, lifetimeRow{rowKey: rowKey{token: "id"}, seconds: e.IDToken.Seconds})
		}
		for _, at := range e.AccessTokens {
			rows = append(rows, lifetimeRow{rowKey: rowKey{"access", at.API, string(at.Flow)}, seconds: at.Lifetime.Seconds})
		}
		if r := e.RefreshToken; r != nil {
			rows = append(rows, lifetimeRow{rowKey: rowKey{token: "refresh_idle"}, seconds: r.InactivityLifetime.Seconds},
				lifetimeRow{rowKey: rowKey{token: "refresh_absolute"}, seconds: r.AbsoluteLifetime.Seconds})
		}
		rows = append(rows, sessionRows(e.Session)...)
	}
	tenant := tenantKey(app.Spec.TenantRef, app.Namespace).String()
	m.export(metricsOwner{"Application", types.NamespacedName{Namespace: app.Namespace, Name: app.Name}}, tenant, rows, clamps, app.Status.Advisories)
}

// api exports api's status.
func (m *statusMetrics) api(api *v1alpha1.API, clamps int) {
	var rows []lifetimeRow
	if e := api.Status.Effective; e != nil {
		// The api label is <namespace>/<name>, as Applications' status
		// names it: one query joins an API with the Applications using it.
		ref := api.Namespace + "/" + api.Name
		rows = append(rows, lifetimeRow{rowKey: rowKey{"access", ref, string(v1alpha1.FlowStandard)}, seconds: e.TokenLifetime.Seconds},
			lifetimeRow{rowKey: rowKey{"access", ref, string(v1alpha1.FlowBrowser)}, seconds: e.TokenLifetimeForBrowserFlows.Seconds})
	}
	tenant := tenantKey(api.Spec.TenantRef, api.Namespace).String()
	m.export(metricsOwner{"API", types.NamespacedName{Namespace: api.Namespace, Name: api.Name}}, tenant, rows, clamps, api.Status.Advisories)
}

// tenant exports the Tenant's session and its issuer's progress.
func (m *statusMetrics) tenant(t *v1alpha1.Tenant) {
	key := types.NamespacedName{Namespace: t.Namespace, Name: t.Name}
	var rows []lifetimeRow
	if e := t.Status.Effective; e != nil {
		rows = sessionRows(&e.Session)
	}
	m.export(metricsOwner{"Tenant", key}, key.String(), rows, 0, t.Status.Advisories)
	if is := t.Status.Issuer; is != nil {
		desired := is.Replicas
		if t.Status.Effective != nil {
			desired = t.Status.Effective.Replicas
		}
		issuerReplicasMetric.WithLabelValues(t.Namespace, t.Name, "desired").Set(float64(desired))
		issuerReplicasMetric.WithLabelValues(t.Namespace, t.Name, "live").Set(float64(is.LiveReplicas))
		issuerReplicasMetric.WithLabelValues(t.Namespace, t.Name, "synced").Set(float64(is.SyncedReplicas))
		issuerGenerationMetric.WithLabelValues(t.Namespace, t.Name, "rendered").Set(float64(is.ConfigGeneration))
		issuerGenerationMetric.WithLabelValues(t.Namespace, t.Name, "served").Set(float64(is.ServedGeneration))
	}
}

// clampCount is how many requested lifetimes the policy shortened for an
// Application served (none when the policy rejected it).
func clampCount(e *lifetime.Application) int {
	if e == nil || e.Enforcement.Rejected() {
		return 0
	}
	return len(e.Enforcement.Clamps)
}

func sessionRows(s *v1alpha1.EffectiveSession) []lifetimeRow {
	if s == nil {
		return nil
	}
	return []lifetimeRow{{rowKey{token: "session_idle"}, s.InactivityTimeout.Seconds}, {rowKey{token: "session_absolute"}, s.AbsoluteTimeout.Seconds}}
}

func (m *statusMetrics) export(owner metricsOwner, tenant string, rows []lifetimeRow, clamps int, advs []v1alpha1.Advisory) {
	ns, name := owner.key.Namespace, owner.key.Name
	next := ownedSeries{tenant: tenant, rows: make([]rowKey, 0, len(rows))}
	for _, r := range rows {
		effectiveLifetimeSeconds.WithLabelValues(ns, owner.kind, name, tenant, r.token, r.api, r.flow).Set(float64(r.seconds))
		next.rows = append(next.rows, r.rowKey)
	}
	lifetimeClamps.WithLabelValues(ns, owner.kind, name, tenant).Set(float64(clamps))
	byReason := map[string]int{}
	for _, a := range advs {
		if byReason[a.Reason] == 0 {
			next.reasons = append(next.reasons, a.Reason)
		}
		byReason[a.Reason]++
	}
	for reason, n := range byReason {
		advisoriesMetric.WithLabelValues(ns, owner.kind, name, tenant, reason).Set(float64(n))
	}

	m.mu.Lock()
	prev, seen := m.series[owner]
	m.series[owner] = next
	m.mu.Unlock()
	if seen {
		m.drop(owner, prev, next)
	}
}

// forget removes every series of a deleted object.
func (m *statusMetrics) forget(kind string, key types.NamespacedName) {
	owner := metricsOwner{kind, key}
	m.mu.Lock()
	prev, seen := m.series[owner]
	delete(m.series, owner)
	m.mu.Unlock()
	if seen {
		m.drop(owner, prev, ownedSeries{})
	}
	if kind == "Tenant" {
		for _, state := range []string{"desired", "live", "synced"} {
			issuerReplicasMetric.DeleteLabelValues(key.Namespace, key.Name, state)
		}
		for _, state := range []string{"rendered", "served"} {
			issuerGenerationMetric.DeleteLabelValues(key.Namespace, key.Name, state)
		}
	}
}

// drop deletes the series of prev that next does not set again (all of
// them when next is empty, or when the tenant label changed).
func (m *statusMetrics) drop(owner metricsOwner, prev, next ownedSeries) {
	ns, name := owner.key.Namespace, owner.key.Name
	sameTenant := prev.tenant == next.tenant
	for _, r := range prev.rows {
		if !sameTenant || !slices.Contains(next.rows, r) {
			effectiveLifetimeSeconds.DeleteLabelValues(ns, owner.kind, name, prev.tenant, r.token, r.api, r.flow)
		}
	}
	for _, reason := range prev.reasons {
		if !sameTenant || !slices.Contains(next.reasons, reason) {
			advisoriesMetric.DeleteLabelValues(ns, owner.kind, name, prev.tenant, reason)
		}
	}
	if !sameTenant {
		lifetimeClamps.DeleteLabelValues(ns, owner.kind, name, prev.tenant)
	}
}
