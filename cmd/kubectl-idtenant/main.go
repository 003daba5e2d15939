// Command kubectl-idtenant is idtenant's kubectl plugin on its own: the
// explain, timeline, completion and version commands of `idtenant`,
// without the manager and the issuer, for the release archives and krew.
// Installed also as kubectl_complete-idtenant (a link to this binary), it
// completes `kubectl idtenant …` in kubectl's shell completion.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/idtenant/idtenant/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe") == cli.CompletionPluginName {
		args = append([]string{"__complete"}, args...)
	}
	// client-go and controller-runtime log through this (warnings the API
	// server sends, for one); errors reach the user as the command's own.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	if err := cli.Run(ctx, args, os.Stdout, os.Stderr, cli.Options{}); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "kubectl idtenant:", err)
		os.Exit(1)
	}
}
