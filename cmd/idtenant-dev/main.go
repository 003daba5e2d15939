// Command idtenant-dev runs idtenant on one machine, for a laptop and for
// `make dev`: a real kube-apiserver, etcd and kube-controller-manager, the
// operator, a dev node whose kubelet runs the issuer Pods as local processes
// of the idtenant binary, and the samples.
//
//	idtenant-dev [flags]
//
// It is a command of its own so that the dev control plane and kubelet
// (internal/dev, internal/controlplane) are never linked into the idtenant
// binary the image ships (internal/release TestImageRunsAsNonRootWithNothingButTheBinary
// checks that).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/idtenant/idtenant/controllers/manager"
	"github.com/idtenant/idtenant/internal/dev"
)

func main() {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapcore.InfoLevel)))
	ctx := ctrl.SetupSignalHandler()
	if err := dev.Run(ctx, os.Args[1:], os.Stdout, newManager); err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "idtenant-dev:", err)
		os.Exit(1)
	}
}

// newManager runs the operator with the wiring a cluster runs.
func newManager(ctx context.Context, cfg *rest.Config, metricsAddr, healthAddr string) (dev.Manager, error) {
	return manager.New(ctx, cfg, manager.Options{MetricsAddr: metricsAddr, HealthAddr: healthAddr})
}
