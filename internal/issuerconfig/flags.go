package issuerconfig

import "github.com/idtenant/idtenant/api/v1alpha1"

// The issuer's command line as the operator writes it into the pod
// template (render.Workload) and `idtenant issuer` parses it.
const (
	// FlagConfigSecret names the primary config Secret to follow.
	FlagConfigSecret = "config-secret"
	// FlagLeaseSlots is the prefix of the Lease slots (IssuerName).
	FlagLeaseSlots = "lease-slots"
	// FlagStore is where state lives: StoreKubernetes or StoreMemory.
	FlagStore = "store"
	// FlagListen and FlagMetricsListen are the listen addresses.
	FlagListen        = "listen"
	FlagMetricsListen = "metrics-listen"
)

// Values of FlagStore.
const (
	StoreKubernetes = "kubernetes"
	StoreMemory     = "memory"
)

// StoreFlag is the FlagStore value for a Tenant's state type.
func StoreFlag(t v1alpha1.StateType) string {
	if t == v1alpha1.StateMemory {
		return StoreMemory
	}
	return StoreKubernetes
}
