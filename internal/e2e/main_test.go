// Package e2e runs the product as users meet it: a real kube-apiserver and
// etcd, the manager with its production RBAC, issuer processes started from
// the Deployments the operator renders (by internal/dev's Kubelet, as
// `idtenant dev` does), and unmodified OIDC clients (go-oidc, x/oauth2)
// asserting that tokens carry exactly the lifetimes status reports.
package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/idtenant/idtenant/controllers/manager"
	"github.com/idtenant/idtenant/internal/controlplane"
	"github.com/idtenant/idtenant/internal/dev"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres/pgtest"
)

var k8s client.Client

// kubelet runs the issuer processes; tests find and kill replicas with it.
var kubelet *dev.Kubelet

// apiServer is the control plane's URL, to find its process.
var apiServer string

// k8sConfig reaches the control plane as an administrator (who may
// impersonate users).
var k8sConfig *rest.Config

// adminKubeconfig is a kubeconfig file's content for an administrator, for
// commands that read one, as a person's would.
var adminKubeconfig []byte

// clockOffset moves the manager's clock (key rotation) forward; the issuer
// processes keep real time, as verifiers in the wild do.
var clockOffset atomic.Int64

// startManager and stopManager run the manager; tests kill and restart it.
var startManager func() error
var stopManager func()

func managerNow() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) }

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	logTo := io.Discard
	if os.Getenv("IDTENANT_TEST_LOG") != "" {
		logTo = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logTo)))
	dir, err := os.MkdirTemp("", "idtenant-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	// The issuer processes run the real binary, built from this tree.
	binary := filepath.Join(dir, "idtenant")
	build := exec.Command("go", "build", "-o", binary, "github.com/idtenant/idtenant")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building idtenant:", err)
		return 1
	}

	cp, err := controlplane.Start("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	// Garbage collection and namespace deletion, as in a cluster.
	kcm, err := cp.StartControllerManager("", filepath.Join(dir, "kube-controller-manager"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = kcm.Stop(stop)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k8s, err = client.New(cp.Config, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgrCfg, err := cp.ManagerConfig(ctx, k8s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	startManager = func() error {
		mctx, mcancel := context.WithCancel(ctx)
		// The dev proxy drops a terminating Pod at once (nothing to wait
		// for, unlike a cluster's endpoints): a short shutdown delay keeps
		// the suite quick; the drain itself is the same.
		mgr, err := manager.New(mctx, mgrCfg, manager.Options{MetricsAddr: "0", HealthAddr: "0", Now: managerNow, Restartable: true,
			IssuerShutdownDelay: time.Second})
		if err != nil {
			mcancel()
			return err
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = mgr.Start(mctx) }()
		stopManager = func() { mcancel(); <-done }
		return nil
	}
	if err := startManager(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	apiServer, k8sConfig = cp.Config.Host, cp.Config
	if adminKubeconfig, err = cp.Kubeconfig(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !strings.Contains(apiServer, "://") {
		apiServer = "https://" + apiServer
	}
	kubelet = &dev.Kubelet{Client: k8s, Config: cp.Config, Binary: binary, Dir: filepath.Join(dir, "pods"), Log: ctrl.Log.WithName("kubelet")}
	kubeletDone := make(chan struct{})
	go func() { defer close(kubeletDone); _ = kubelet.Run(ctx) }()

	code := m.Run()
	if code != 0 {
		dumpIssuerLogs(filepath.Join(dir, "pods"))
	}
	cancel()
	<-kubeletDone
	stopManager()
	pgtest.StopShared()
	return code
}

// dumpIssuerLogs prints the issuer processes' logs when a test failed.
func dumpIssuerLogs(dir string) {
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(path) == "issuer.log" {
			data, _ := os.ReadFile(path)
			if len(data) > 4000 {
				data = data[len(data)-4000:]
			}
			fmt.Fprintf(os.Stderr, "--- %s (tail)\n%s\n", path, data)
		}
		return nil
	})
}
