// Package version says which idtenant a binary is: the release version
// stamped at build time, and the source revision and Go version the Go
// toolchain records in every binary.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is the release, set at build time:
//
//	go build -ldflags "-X github.com/idtenant/idtenant/internal/version.Version=v0.1.0"
//
// "dev" in a binary built without it.
var Version = "dev"

// Info is what a binary knows of its build.
type Info struct {
	Version, Revision, GoVersion string
	// Modified: built from a working tree with uncommitted changes.
	Modified bool
}

// Get reads the build information.
func Get() Info {
	info := Info{Version: Version, Revision: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	return info
}

// String is the one line `idtenant version` prints.
func (i Info) String() string {
	rev := i.Revision
	if i.Modified {
		rev += " (modified)"
	}
	return fmt.Sprintf("idtenant %s, revision %s, %s", i.Version, rev, i.GoVersion)
}

// Collector is idtenant_build_info: always 1, its labels say the build.
func Collector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "idtenant_build_info",
		Help:        "Always 1; the labels name the build: release version, source revision and Go version.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}
