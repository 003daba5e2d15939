// Command kubectl-idtenant is idtenant's kubectl plugin on its own: the
// explain, timeline, completion and version commands of `idtenant`,
// without the manager and the issuer, for the release archives and krew.
// Installed also as kubectl_complete-idtenant (a link to this binary), it
// completes `kubectl idtenant …` in kubectl's shell completion.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/idtenant/idtenant/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe") == cli.CompletionPluginName {
		args = append([]string{"__complete"}, args...)
	}
	if err := cli.Run(ctx, args, os.Stdout, os.Stderr, cli.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "kubectl idtenant:", err)
		os.Exit(1)
	}
}
