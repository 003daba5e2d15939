package issuer

import (
	"os/exec"

	sysunix "golang.org/x/sys/unix"
)

// ownCore reports whether this process (the load generator) cannot run on
// CPU 0, where startChildIssuer pins the issuer, and the issuer can.
func ownCore() bool {
	if exec.Command("taskset", "-c", "0", "true").Run() != nil {
		return false // no taskset, or CPU 0 is outside this container's cpuset
	}
	var set sysunix.CPUSet
	if err := sysunix.SchedGetaffinity(0, &set); err != nil {
		return false
	}
	return !set.IsSet(0) && set.Count() > 0
}
