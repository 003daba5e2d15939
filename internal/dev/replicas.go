package dev

import (
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Replica is a running issuer process, as tests see it.
type Replica struct {
	// Name is the Pod's name.
	Name string
	// URL is where this replica serves: its Pod IP and container port.
	URL string
	PID int
}

// Replicas lists the running processes of the Deployment namespace/name
// (the Pods of its ReplicaSets, terminating ones included until their
// process has stopped), oldest first.
func (k *Kubelet) Replicas(namespace, name string) []Replica {
	k.mu.Lock()
	defer k.mu.Unlock()
	var live []*pod
	for _, lp := range k.pods {
		if lp.namespace != namespace || !strings.HasPrefix(lp.owner, name+"-") || !lp.running() {
			continue
		}
		live = append(live, lp)
	}
	slices.SortStableFunc(live, func(a, b *pod) int { return a.started.Compare(b.started) })
	out := make([]Replica, 0, len(live))
	for _, lp := range live {
		out = append(out, Replica{Name: lp.name, URL: "http://" + net.JoinHostPort(lp.ip, strconv.Itoa(int(lp.httpPort))), PID: lp.cmd.Process.Pid})
	}
	return out
}

// Kill ends the process of every Pod of the Deployment namespace/name with
// SIGKILL, as an OOM kill would; the kubelet restarts the containers.
func (k *Kubelet) Kill(namespace, name string) {
	k.mu.Lock()
	var pods []*pod
	for _, lp := range k.pods {
		if lp.namespace == namespace && strings.HasPrefix(lp.owner, name+"-") {
			pods = append(pods, lp)
		}
	}
	k.mu.Unlock()
	for _, lp := range pods {
		k.mu.Lock()
		cmd, done := lp.cmd, lp.done
		k.mu.Unlock()
		_ = cmd.Process.Kill()
		<-done
	}
}

func (lp *pod) stop() {
	if lp.cmd == nil || !lp.running() {
		return
	}
	// SIGTERM, then SIGKILL once the Pod's grace period is over, as a
	// kubelet does: an issuer drains its requests in between.
	_ = lp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-lp.done:
	case <-time.After(lp.grace):
		_ = lp.cmd.Process.Kill()
		<-lp.done
	}
}

func (k *Kubelet) stopAll() {
	k.mu.Lock()
	pods := make([]*pod, 0, len(k.pods))
	for _, lp := range k.pods {
		pods = append(pods, lp)
	}
	k.mu.Unlock()
	// At once: each drains for its shutdown delay.
	var wg sync.WaitGroup
	for _, lp := range pods {
		wg.Go(lp.stop)
	}
	wg.Wait()
}

// KillPod kills the process of Pod namespace/name outright (SIGKILL), as a
// crash or a lost node ends a container, and reports whether it ran one;
// the kubelet then restarts the container.
func (k *Kubelet) KillPod(namespace, name string) bool {
	k.mu.Lock()
	var cmd *exec.Cmd
	var done chan struct{}
	for _, lp := range k.pods {
		if lp.namespace == namespace && lp.name == name && lp.running() {
			cmd, done = lp.cmd, lp.done
		}
	}
	k.mu.Unlock()
	if cmd == nil {
		return false
	}
	_ = cmd.Process.Kill()
	<-done
	return true
}
