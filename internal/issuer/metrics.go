package issuer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/idtenant/idtenant/internal/version"
)

// metrics live on the issuer's own registry, so an issuer embedded in a
// test or beside the manager never collides with other collectors.
type metrics struct {
	tokens        *prometheus.CounterVec
	sessionsStart prometheus.Counter
	sessionsEnd   *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	loginFailures prometheus.Counter
	// upstreamLogins counts logins through connections by result.
	upstreamLogins *prometheus.CounterVec
	generation     prometheus.Gauge
	storeErrors    *prometheus.CounterVec
	quotaRefusals  *prometheus.CounterVec
	storeLatency   *prometheus.HistogramVec
	// consents counts answers on third-party applications' consent pages.
	consents *prometheus.CounterVec
	// unboundFamilies counts session-bound families a session's
	// contention kept from being recorded on it.
	unboundFamilies prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idtenant_issuer_tokens_issued_total",
			Help: "Tokens issued, by grant, flow (Standard or Browser for access tokens), kind and signing algorithm (none for opaque refresh tokens).",
		}, []string{"grant", "flow", "kind", "alg"}),
		sessionsStart: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idtenant_issuer_sessions_started_total",
			Help: "SSO sessions started by a successful login.",
		}),
		sessionsEnd: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idtenant_issuer_sessions_ended_total",
			Help: "SSO sessions ended, by reason: Inactivity, Absolute, UserChanged, Logout or Relogin.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "idtenant_issuer_request_duration_seconds",
			Help:    "HTTP request latency by endpoint and status code.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"endpoint", "code"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idtenant_issuer_login_failures_total",
			Help: "Failed or throttled login attempts.",
		}),
		upstreamLogins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idtenant_issuer_upstream_logins_total",
			Help: "Logins through upstream connections by connection and result: success, denied (the upstream answered an error), unreachable, exchange_failed, bad_token, email_not_verified, not_admitted (allowedDomains or allowedGroups), expired (too slow or another browser), bad_response.",
		}, []string{"connection", "result"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idtenant_issuer_config_generation",
			Help: "Generation of the issuer configuration being served.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idtenant_issuer_store_errors_total",
			Help: "State store operations that failed (the request was answered 503), by operation.",
		}, []string{"operation"}),
		quotaRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idtenant_issuer_state_quota_refusals_total",
			Help: "State records the store refused because the Tenant's state quota (spec.state.quota) is reached, by table: each one a login, code exchange or revocation answered 503.",
		}, []string{"table"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idtenant_issuer_store_duration_seconds",
			Help: "State store calls by table (sessions, codes, families, revocations, consents), operation (get, create, update, delete) " +
				"and result (ok, not_found, conflict, quota, error): with the Kubernetes store, each is one API server request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"table", "operation", "result"}),
		unboundFamilies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idtenant_issuer_unbound_refresh_families_total",
			Help: "Session-bound refresh families not recorded on their session because it kept changing (8 attempts): a logout does not delete them at once; they still end with the session and are collected at its absolute deadline.",
		}),
		consents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idtenant_issuer_consents_total",
			Help: "Answers on the consent page of third-party Applications (spec.thirdParty), by result: allowed or denied.",
		}, []string{"result"}),
	}
	reg.MustRegister(version.Collector(), m.unboundFamilies, m.consents, m.tokens, m.sessionsStart, m.sessionsEnd, m.latency, m.loginFailures, m.upstreamLogins, m.generation, m.storeErrors, m.quotaRefusals, m.storeLatency)
	return m
}
