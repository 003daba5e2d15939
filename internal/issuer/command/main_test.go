package command

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// issuerProcessEnv makes the test binary run as an issuer process (as
// `idtenant issuer` does, stopping at SIGTERM), so tests can signal a real
// process.
const issuerProcessEnv = "IDTENANT_TEST_ISSUER_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(issuerProcessEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := Run(ctx, os.Args[1:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "issuer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
