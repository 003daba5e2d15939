package version

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBuildInfo: the version line and idtenant_build_info name the
// stamped release and the Go version.
func TestBuildInfo(t *testing.T) {
	old := Version
	Version = "v9.8.7"
	t.Cleanup(func() { Version = old })
	if s := Get().String(); !strings.HasPrefix(s, "idtenant v9.8.7, revision ") || !strings.Contains(s, "go1.") {
		t.Errorf("version line %q", s)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector())
	want := `
# HELP idtenant_build_info Always 1; the labels name the build: release version, source revision and Go version.
# TYPE idtenant_build_info gauge
idtenant_build_info{goversion="` + Get().GoVersion + `",revision="` + Get().Revision + `",version="v9.8.7"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "idtenant_build_info"); err != nil {
		t.Error(err)
	}
}
