package status

import (
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
// generation"). Every value is taken from the status just written (or
// found unchanged), never computed apart from it: a gauge and the status it
// mirrors cannot disagree.
var (
	effectiveLifetimeDesc = prometheus.NewDesc("idtenant_effective_lifetime_seconds",
		"Effective lifetime in seconds, as the object's status reports it (status.effective): "+
			"token is id, access, refresh_idle, refresh_absolute, session_idle or session_absolute; "+
			"api (<namespace>/<name>) and flow (Standard, Browser) are set for access tokens; tenant is <namespace>/<name> of the Tenant.",
		[]string{"namespace", "kind", "name", "tenant", "token", "api", "flow"}, nil)
	lifetimeClampsDesc = prometheus.NewDesc("idtenant_lifetime_clamps",
		"Requested lifetimes the Tenant's policy (mode Clamp) shortened for this object: the LifetimesClamped condition counted.",
		[]string{"namespace", "kind", "name", "tenant"}, nil)
	advisoriesDesc = prometheus.NewDesc("idtenant_advisories",
		"Advisories in the object's status.advisories, by reason.",
		[]string{"namespace", "kind", "name", "tenant", "reason"}, nil)
	issuerReplicasDesc = prometheus.NewDesc("idtenant_issuer_replicas",
		"Issuer replicas of a Tenant by state: desired (spec), live (reporting through a Lease) and synced (serving the newest configuration generation).",
		[]string{"namespace", "tenant", "state"}, nil)
	issuerGenerationDesc = prometheus.NewDesc("idtenant_issuer_config_generation",
		"Configuration generation of a Tenant's issuer by state: rendered (written by the operator) and served (by every live replica; 0 before any).",
		[]string{"namespace", "tenant", "state"}, nil)
)

func init() {
	metrics.Registry.MustRegister(ObjectMetrics)
}

// statusMetrics keeps, per object, the numbers its status showed last, and
// turns them into metrics when Prometheus scrapes (the way kube-state-metrics
// does). Client-side gauge vectors cost about a kilobyte per series: at 5,000
// Applications (45,000 series) they doubled the operator's heap. Here a row
// is a few words, a row that left status simply is not there at the next
// scrape, and a deleted object is one map delete.
type statusMetrics struct {
	mu      sync.RWMutex
	objects map[metricsOwner]exportedStatus
}

type metricsOwner struct {
	kind string
	key  types.NamespacedName
}

// exportedStatus is what one object's status showed.
type exportedStatus struct {
	tenant     string // <namespace>/<name> of the Tenant
	lifetimes  []lifetimeRow
	clamps     int
	advisories map[string]int // by reason
	issuer     *v1alpha1.IssuerStatus
	desired    int32 // Tenants: desired issuer replicas
}

// lifetimeRow is one effective lifetime of an object.
type lifetimeRow struct {
	token, api, flow string
	seconds          int64
}

var ObjectMetrics = &statusMetrics{objects: map[metricsOwner]exportedStatus{}}

// Application exports app's status; clamps is how many requested lifetimes
// the policy shortened.
func (m *statusMetrics) Application(app *v1alpha1.Application, clamps int) {
	var rows []lifetimeRow
	if e := app.Status.Effective; e != nil {
		if e.IDToken != nil {
			rows = append(rows, lifetimeRow{token: "id", seconds: e.IDToken.Seconds})
		}
		for _, at := range e.AccessTokens {
			rows = append(rows, lifetimeRow{token: "access", api: at.API, flow: string(at.Flow), seconds: at.Lifetime.Seconds})
		}
		if r := e.RefreshToken; r != nil {
			rows = append(rows, lifetimeRow{token: "refresh_idle", seconds: r.InactivityLifetime.Seconds},
				lifetimeRow{token: "refresh_absolute", seconds: r.AbsoluteLifetime.Seconds})
		}
		rows = append(rows, sessionRows(e.Session)...)
	}
	m.set(metricsOwner{"Application", types.NamespacedName{Namespace: app.Namespace, Name: app.Name}}, exportedStatus{
		tenant: app.Spec.TenantRef.KeyFrom(app.Namespace).String(), lifetimes: rows, clamps: clamps, advisories: byReason(app.Status.Advisories)})
}

// API exports api's status.
func (m *statusMetrics) API(api *v1alpha1.API, clamps int) {
	var rows []lifetimeRow
	if e := api.Status.Effective; e != nil {
		// The api label is <namespace>/<name>, as Applications' status
		// names it: one query joins an API with the Applications using it.
		ref := api.Namespace + "/" + api.Name
		rows = append(rows, lifetimeRow{token: "access", api: ref, flow: string(v1alpha1.FlowStandard), seconds: e.TokenLifetime.Seconds},
			lifetimeRow{token: "access", api: ref, flow: string(v1alpha1.FlowBrowser), seconds: e.TokenLifetimeForBrowserFlows.Seconds})
	}
	m.set(metricsOwner{"API", types.NamespacedName{Namespace: api.Namespace, Name: api.Name}}, exportedStatus{
		tenant: api.Spec.TenantRef.KeyFrom(api.Namespace).String(), lifetimes: rows, clamps: clamps, advisories: byReason(api.Status.Advisories)})
}

// Tenant exports the Tenant's session and its issuer's progress.
func (m *statusMetrics) Tenant(t *v1alpha1.Tenant) {
	key := types.NamespacedName{Namespace: t.Namespace, Name: t.Name}
	e := exportedStatus{tenant: key.String(), advisories: byReason(t.Status.Advisories)}
	if eff := t.Status.Effective; eff != nil {
		e.lifetimes = sessionRows(&eff.Session)
		e.desired = eff.Replicas
	}
	if is := t.Status.Issuer; is != nil {
		copied := *is
		copied.Keys, copied.ConfigSecrets = nil, nil // not exported; keep nothing else
		e.issuer = &copied
		if t.Status.Effective == nil {
			e.desired = is.Replicas
		}
	}
	m.set(metricsOwner{"Tenant", key}, e)
}

// ClampCount is how many requested lifetimes the policy shortened for an
// Application served (none when the policy rejected it).
func ClampCount(e *lifetime.Application) int {
	if e == nil || e.Enforcement.Rejected() {
		return 0
	}
	return len(e.Enforcement.Clamps)
}

func sessionRows(s *v1alpha1.EffectiveSession) []lifetimeRow {
	if s == nil {
		return nil
	}
	return []lifetimeRow{{token: "session_idle", seconds: s.InactivityTimeout.Seconds}, {token: "session_absolute", seconds: s.AbsoluteTimeout.Seconds}}
}

func byReason(advs []v1alpha1.Advisory) map[string]int {
	if len(advs) == 0 {
		return nil
	}
	out := map[string]int{}
	for _, a := range advs {
		out[a.Reason]++
	}
	return out
}

func (m *statusMetrics) set(owner metricsOwner, e exportedStatus) {
	m.mu.Lock()
	m.objects[owner] = e
	m.mu.Unlock()
}

// Forget removes a deleted object's metrics.
func (m *statusMetrics) Forget(kind string, key types.NamespacedName) {
	m.mu.Lock()
	delete(m.objects, metricsOwner{kind, key})
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *statusMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{effectiveLifetimeDesc, lifetimeClampsDesc, advisoriesDesc, issuerReplicasDesc, issuerGenerationDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *statusMetrics) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for owner, e := range m.objects {
		ns, name := owner.key.Namespace, owner.key.Name
		for _, r := range e.lifetimes {
			gauge(effectiveLifetimeDesc, float64(r.seconds), ns, owner.kind, name, e.tenant, r.token, r.api, r.flow)
		}
		if owner.kind != "Tenant" {
			gauge(lifetimeClampsDesc, float64(e.clamps), ns, owner.kind, name, e.tenant)
		}
		for reason, n := range e.advisories {
			gauge(advisoriesDesc, float64(n), ns, owner.kind, name, e.tenant, reason)
		}
		if is := e.issuer; is != nil {
			gauge(issuerReplicasDesc, float64(e.desired), ns, name, "desired")
			gauge(issuerReplicasDesc, float64(is.LiveReplicas), ns, name, "live")
			gauge(issuerReplicasDesc, float64(is.SyncedReplicas), ns, name, "synced")
			gauge(issuerGenerationDesc, float64(is.ConfigGeneration), ns, name, "rendered")
			gauge(issuerGenerationDesc, float64(is.ServedGeneration), ns, name, "served")
		}
	}
}
