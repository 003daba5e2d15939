package issuerconfig

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// How a replica reports what it serves: the operator creates LeaseSlots
// Leases named LeaseName; each replica claims a free one, renews it like a
// kubelet's heartbeat and writes the two annotations below. The operator
// counts only Live leases.

// Annotations an issuer replica writes on its Lease slot, read by the
// operator to report IssuerSynced.
const (
	// AnnotationServedGeneration is the config generation the replica serves.
	AnnotationServedGeneration = "idtenant.dev/served-generation"
	// AnnotationConfigError is why the replica could not load the newest
	// generation (empty when it could); it never contains secrets.
	AnnotationConfigError = "idtenant.dev/config-error"
)

// LeaseSlots is how many Leases the issuer replicas may hold: one per
// replica plus one for the surge pod of a rolling update.
func LeaseSlots(replicas int32) int32 { return replicas + 1 }

// LeaseName is the name of replica slot i's Lease. The operator creates the
// slots; each replica claims a free one. Fixed names let the Role grant
// update on exactly these Leases (RBAC cannot restrict create by name).
func LeaseName(tenantName string, i int32) string {
	return fmt.Sprintf("%s-%d", IssuerName(tenantName), i)
}

// LeaseSlot is LeaseName's inverse: which of tenantName's slots leaseName
// is, if it is one.
func LeaseSlot(tenantName, leaseName string) (int32, bool) {
	suffix, found := strings.CutPrefix(leaseName, IssuerName(tenantName)+"-")
	i, err := strconv.ParseUint(suffix, 10, 31)
	if !found || err != nil || leaseName != LeaseName(tenantName, int32(i)) {
		return 0, false
	}
	return int32(i), true
}

// Live reports whether a Lease is held and was renewed within its duration.
// The operator counts only live Leases: a replica that died or hangs drops
// out of IssuerSynced once its Lease expires.
func Live(lease *coordinationv1.Lease, now time.Time) bool {
	s := lease.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second))
}
