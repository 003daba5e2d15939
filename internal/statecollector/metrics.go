package statecollector

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store/kube"
)

// Metrics of the issuer state store, refreshed by every complete collection
// pass and by a backlog a pass in progress found (Tenant status is
// refreshed less often), and served on the manager's metrics endpoint.
var (
	stateRecords = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idtenant_state_records",
		Help: "Issuer state records of a Tenant with the Kubernetes or PostgreSQL store, by kind (Session, AuthorizationCode, RefreshFamily, RevokedToken, Consent) " +
			"and state: live (still in force; includes revoked refresh families and redeemed codes, kept until they expire) or expired (awaiting collection).",
	}, []string{"namespace", "tenant", "kind", "state"})
	stateCollectedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idtenant_state_collected_total",
		Help: "Expired issuer state records the operator deleted, by kind.",
	}, []string{"namespace", "tenant", "kind"})
	stateListedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idtenant_state_listed_total",
		Help: "Issuer state records the collector listed from the API server (Kubernetes store), by kind: the read load collection puts on the API server.",
	}, []string{"namespace", "tenant", "kind"})
	stateOldestExpired = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idtenant_state_oldest_expired_seconds",
		Help: "How long the oldest issuer state record awaiting collection has been expired; 0 when none waits.",
	}, []string{"namespace", "tenant"})
)

func init() {
	metrics.Registry.MustRegister(stateRecords, stateCollectedTotal, stateListedTotal, stateOldestExpired)
}

func exportStateMetrics(tenant *v1alpha1.Tenant, found tally, st v1alpha1.StateStatus) {
	for i, k := range found {
		name := metricKind(i)
		stateRecords.WithLabelValues(tenant.Namespace, tenant.Name, name, "live").Set(float64(k.live))
		stateRecords.WithLabelValues(tenant.Namespace, tenant.Name, name, "expired").Set(float64(k.awaiting))
	}
	stateOldestExpired.WithLabelValues(tenant.Namespace, tenant.Name).Set(st.OldestExpiredAge.Seconds())
}

func deleteStateMetrics(key types.NamespacedName) {
	labels := prometheus.Labels{"namespace": key.Namespace, "tenant": key.Name}
	stateRecords.DeletePartialMatch(labels)
	stateCollectedTotal.DeletePartialMatch(labels)
	stateListedTotal.DeletePartialMatch(labels)
	stateOldestExpired.DeletePartialMatch(labels)
}

// Metrics are the collector's metric families, registered with
// controller-runtime's registry (for checks of the shipped alert rules).
func Metrics() []prometheus.Collector {
	return []prometheus.Collector{stateRecords, stateCollectedTotal, stateListedTotal, stateOldestExpired}
}

// metricKind is the kind label of the i-th of store.Kinds: the Kubernetes
// store's resource kind, whatever the backend, so dashboards read both.
func metricKind(i int) string { return kube.Kinds[i].Name }
