//go:build !linux

package issuer

// ownCore: pinning the issuer and the load generator to separate cores
// needs taskset and Linux CPU affinity.
func ownCore() bool { return false }
