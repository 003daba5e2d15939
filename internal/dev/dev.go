// Package dev runs idtenant on one machine: a real kube-apiserver and etcd
// (no cluster needed), the CRDs, the manager and the samples, plus a
// kubeconfig so kubectl works against it.
package dev

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/internal/controlplane"
	"github.com/idtenant/idtenant/internal/kubescheme"
)

// Manager is the operator as dev runs it.
type Manager interface {
	Start(ctx context.Context) error
}

// NewManager builds the operator's manager against cfg with its metrics and
// health probes on the given addresses ("0" disables them). The caller
// supplies it (cmd/idtenant-dev: controllers/manager), so that this package
// never depends on the operator's packages.
type NewManager func(ctx context.Context, cfg *rest.Config, metricsAddr, healthAddr string) (Manager, error)

// Run parses the dev flags and runs until ctx is done.
func Run(ctx context.Context, args []string, out io.Writer, newManager NewManager) error {
	fl := flag.NewFlagSet("dev", flag.ContinueOnError)
	binDir := fl.String("control-plane-binaries", "", "directory with kube-apiserver and etcd (default: $KUBEBUILDER_ASSETS or bin/k8s/"+controlplane.KubernetesVersion+")")
	kubeconfigOut := fl.String("kubeconfig-out", filepath.Join("bin", "dev", "kubeconfig"), "where to write the kubeconfig for kubectl")
	samples := fl.Bool("samples", true, "apply config/samples after start")
	metricsAddr := fl.String("metrics-bind-address", "127.0.0.1:8080", "manager metrics address; 0 disables")
	healthAddr := fl.String("health-probe-bind-address", "127.0.0.1:8081", "manager /healthz and /readyz address; 0 disables")
	issuerBinary := fl.String("issuer-binary", "", "the idtenant binary the dev kubelet runs for issuer Pods (default: idtenant beside this executable)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	log := ctrl.Log.WithName("dev")

	fmt.Fprintln(out, "idtenant-dev: starting kube-apiserver and etcd...")
	cp, err := controlplane.Start(*binDir)
	if err != nil {
		return err
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			log.Error(err, "stopping the control plane")
		}
	}()
	// The garbage collector and the namespace controller, as in a cluster:
	// `kubectl delete tenant` removes the issuer, `kubectl delete
	// namespace` finishes.
	kcm, err := cp.StartControllerManager(*binDir, filepath.Join(filepath.Dir(*kubeconfigOut), "kube-controller-manager"))
	if err != nil {
		return err
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = kcm.Stop(stop)
	}()
	fmt.Fprintf(out, "idtenant-dev: kube-controller-manager runs %s (log: %s)\n", strings.Join(controlplane.ClusterControllers, ", "), kcm.Log)

	admin, err := client.New(cp.Config, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	// Run the manager as its ServiceAccount with config/rbac's permissions,
	// as in a cluster.
	mgrCfg, err := cp.ManagerConfig(ctx, admin)
	if err != nil {
		return err
	}
	mgr, err := newManager(ctx, mgrCfg, *metricsAddr, *healthAddr)
	if err != nil {
		return err
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()

	// Run the issuer Deployments the operator renders as local processes
	// of the idtenant binary, the one the image ships.
	binary, err := issuerBinaryPath(*issuerBinary)
	if err != nil {
		return err
	}
	podsDir, err := filepath.Abs(filepath.Join(filepath.Dir(*kubeconfigOut), "pods"))
	if err != nil {
		return err
	}
	kubelet := &Kubelet{Client: admin, Config: cp.Config, Binary: binary, Dir: podsDir, Log: log.WithName("kubelet")}
	kubeletCtx, stopKubelet := context.WithCancel(ctx)
	kubeletDone := make(chan struct{})
	go func() {
		defer close(kubeletDone)
		_ = kubelet.Run(kubeletCtx)
	}()
	// On any return, the kubelet stops its processes before the control
	// plane goes (an early error return must not wait for ctx forever).
	defer func() { stopKubelet(); <-kubeletDone }()

	kubeconfig, err := cp.Kubeconfig()
	if err != nil {
		return err
	}
	path, err := writeKubeconfig(*kubeconfigOut, kubeconfig)
	if err != nil {
		return err
	}

	if *samples {
		if err := applyWithRetry(ctx, log, admin); err != nil {
			return err
		}
		fmt.Fprintln(out, "idtenant-dev: applied config/samples")
	}

	fmt.Fprintf(out, `idtenant-dev: ready. The control plane runs until you press Ctrl-C.

  export KUBECONFIG=%s
  bin/k8s/%s/kubectl get idtenant -A -o wide
  bin/k8s/%s/kubectl get application storefront -n shop -o yaml

Issuer processes log to %s/<namespace>/<pod>/issuer.log.
`, path, controlplane.KubernetesVersion, controlplane.KubernetesVersion, podsDir)

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "idtenant-dev: shutting down")
		return <-mgrDone
	case err := <-mgrDone:
		return err
	}
}

// applyWithRetry applies the samples, retrying briefly while the API server
// finishes publishing the CRDs' REST endpoints.
func applyWithRetry(ctx context.Context, log logr.Logger, c client.Client) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if _, err = controlplane.ApplySamples(ctx, c); err == nil {
			return nil
		}
		log.V(1).Info("samples not applied yet, retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("applying samples: %w", err)
}

func writeKubeconfig(path string, data []byte) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(abs), err)
	}
	if err := os.WriteFile(abs, data, 0o600); err != nil {
		return "", fmt.Errorf("writing kubeconfig: %w", err)
	}
	return abs, nil
}

// issuerBinaryPath is flagValue, or the idtenant binary beside this
// executable (make build puts both into bin/).
func issuerBinaryPath(flagValue string) (string, error) {
	path := flagValue
	if path == "" {
		self, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("finding the idtenant binary: %w", err)
		}
		path = filepath.Join(filepath.Dir(self), "idtenant")
	}
	if info, err := os.Stat(path); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("--issuer-binary %s: not an executable (build it with make build): %w", path, err)
	}
	return path, nil
}
