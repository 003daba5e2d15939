package issuer

import (
	"os/exec"

	sysunix "golang.org/x/sys/unix"
)

// ownCore reports whether this process (the load generator) cannot run on
// CPU 0, where startChildIssuer pins the issuer.
func ownCore() bool {
	if _, err := exec.LookPath("taskset"); err != nil {
		return false
	}
	var set sysunix.CPUSet
	if err := sysunix.SchedGetaffinity(0, &set); err != nil {
		return false
	}
	return !set.IsSet(0) && set.Count() > 0
}
