package controlplane

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ClusterControllers are the kube-controller-manager controllers the dev
// control plane and the end-to-end tests run: what a cluster does to
// idtenant's objects that idtenant itself does not. The deployment and
// replicaset controllers run the issuer Deployments (rolling updates with
// the rendered maxSurge/maxUnavailable, a killed or deleted Pod replaced),
// the disruption controller keeps the PodDisruptionBudgets'
// status; the dev kubelet (internal/dev) binds and runs the Pods. The
// garbage collector follows owner references (deleting a Tenant removes
// its issuer's Deployment, Secrets, RBAC, Leases and state records;
// deleting an Application its credentials Secret); the namespace
// controller empties and removes a deleted namespace; the serviceaccount
// controller gives every namespace its default ServiceAccount; the
// clusterrole-aggregation controller merges idtenant's aggregated roles
// (config/rbac/aggregate_roles.yaml) into the built-in admin, edit and view;
// the resourcequota controller counts what each Tenant's state quota
// (<tenant>-state) bounds, without which the API server's quota admission
// refuses every state record.
var ClusterControllers = []string{"garbagecollector", "namespace", "deployment", "replicaset", "disruption", "serviceaccount", "clusterrole-aggregation", "resourcequota"}

// The endpointslice controller is not among them: the dev Pods' loopback
// IPs are refused in EndpointSlices, so the dev proxy reads the ready Pods
// behind a Service itself (internal/dev/proxy.go).

// ControllerManager is a running kube-controller-manager.
type ControllerManager struct {
	cmd  *exec.Cmd
	done chan error
	// Log is its log file.
	Log string
}

// StartControllerManager runs kube-controller-manager from binDir (as
// `make k8s-tools` builds it) against the control plane, as an
// administrator, with ClusterControllers, logging to a file in dir. It
// serves no port and elects no leader.
func (c *ControlPlane) StartControllerManager(binDir, dir string) (*ControllerManager, error) {
	if binDir == "" {
		var err error
		if binDir, err = BinaryDir(); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(binDir, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("kube-controller-manager is not in %s (run make k8s-tools): %w", binDir, err)
	}
	kubeconfig, err := c.Kubeconfig()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	kcPath := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "kube-controller-manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+kcPath,
		"--controllers="+strings.Join(ClusterControllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-gc-syncs=5",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Dies with its parent, even one killed by SIGKILL or a test timeout,
	// rather than retrying against a gone API server forever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	m := &ControllerManager{cmd: cmd, done: make(chan error, 1), Log: logPath}
	go func() {
		m.done <- cmd.Wait()
		logFile.Close()
	}()
	// A controller manager that exits at once (a bad flag, no access)
	// fails here, not as a test that waits for garbage collection.
	select {
	case err := <-m.done:
		data, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("kube-controller-manager exited: %w\n%s", err, tail(string(data), 2000))
	case <-time.After(2 * time.Second):
	}
	return m, nil
}

// Stop ends the controller manager.
func (m *ControllerManager) Stop(ctx context.Context) error {
	if m == nil || m.cmd.Process == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done: //nolint:errcheck // its exit status after an interrupt says nothing
	case <-ctx.Done():
		_ = m.cmd.Process.Kill()
		<-m.done //nolint:errcheck // nor after a kill
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
