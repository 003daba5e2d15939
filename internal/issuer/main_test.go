package issuer

import (
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The op library logs through the default slog logger; keep test
	// output to failures.
	if os.Getenv("ISSUER_TEST_LOGS") == "" {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	if path := os.Getenv(benchServeEnv); path != "" {
		os.Exit(benchServe(path))
	}
	code := m.Run()
	stopBenchControlPlane()
	os.Exit(code)
}
