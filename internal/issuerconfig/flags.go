package issuerconfig

import (
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// The issuer's command line as the operator writes it into the pod
// template (render.Workload) and `idtenant issuer` parses it.
const (
	// FlagConfigSecret names the primary config Secret to follow.
	FlagConfigSecret = "config-secret"
	// FlagLeaseSlots is the prefix of the Lease slots (IssuerName).
	FlagLeaseSlots = "lease-slots"
	// FlagStore is where state lives: StoreKubernetes, StoreMemory or
	// StorePostgreSQL.
	FlagStore = "store"
	// FlagListen and FlagMetricsListen are the listen addresses.
	FlagListen        = "listen"
	FlagMetricsListen = "metrics-listen"
	// FlagShutdownDelay is how long the issuer keeps serving after SIGTERM
	// (readiness failing) before it closes its listeners, and
	// FlagDrainTimeout how long it then waits for requests in flight.
	FlagShutdownDelay = "shutdown-delay"
	FlagDrainTimeout  = "drain-timeout"
)

// Defaults of FlagShutdownDelay and FlagDrainTimeout. Five seconds covers
// the usual time for a terminating Pod to leave its Service's endpoints
// and a cloud load balancer's targets; a request takes milliseconds, and
// the drain bound only stops a stuck client from holding a rollout.
const (
	DefaultShutdownDelay = 5 * time.Second
	DefaultDrainTimeout  = 20 * time.Second
)

// TerminationGracePeriod is the Pod's terminationGracePeriodSeconds for an
// issuer with shutdownDelay and the default drain timeout (the operator
// does not set FlagDrainTimeout): the delay, the drain bound, and a margin
// for releasing the Lease slot (at most 5s) and exiting, so the kubelet
// never kills a draining issuer.
func TerminationGracePeriod(shutdownDelay time.Duration) time.Duration {
	return shutdownDelay + DefaultDrainTimeout + 10*time.Second
}

// Values of FlagStore.
const (
	StoreKubernetes = "kubernetes"
	StoreMemory     = "memory"
	StorePostgreSQL = "postgresql"
)

// StoreFlag is the FlagStore value for a Tenant's state type.
func StoreFlag(t v1alpha1.StateType) string {
	switch t {
	case v1alpha1.StateMemory:
		return StoreMemory
	case v1alpha1.StatePostgreSQL:
		return StorePostgreSQL
	}
	return StoreKubernetes
}

// PendingLifetime is how long the issuer's short-lived sealed values live
// (a sign-in waiting at the login or consent page, the state sent to an
// upstream): the issuer seals them for it, and the operator keeps a
// superseded sealing key at least that long.
const PendingLifetime = 10 * time.Minute
