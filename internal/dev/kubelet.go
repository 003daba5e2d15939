package dev

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kubelet does for the dev node what a kubelet does for its node: it binds
// the issuer Pods that kube-controller-manager's ReplicaSets create to the
// node "dev" (there is no scheduler), runs each Pod's container as a local
// process with the Pod's args and env, its ServiceAccount's token and the
// Downward API values, probes readiness, restarts exited containers, and
// reports Pod status (phase, IPs, Ready, restarts). Deployments, ReplicaSets,
// rolling updates and EndpointSlices are Kubernetes' own.
//
// Every Pod gets its own loopback address (127.0.1.N) as its Pod IP, so
// replicas listen on the same container port as in a cluster and
// EndpointSlices can list them. The issuer URL's port is served by a small
// proxy to the ready endpoints (proxy.go), as kube-proxy would.
type Kubelet struct {
	Client client.Client
	Config *rest.Config
	// Binary is the idtenant executable to run.
	Binary string
	// Dir receives each Pod's kubeconfig, token and log.
	Dir string
	Log logr.Logger

	mu   sync.Mutex
	pods map[types.UID]*pod
	// ips are the loopback addresses in use, by Pod.
	ips map[string]types.UID
	// tokens requests ServiceAccount tokens and binds Pods.
	tokens  kubernetes.Interface
	proxies *proxies
}

// pod is a Pod this kubelet runs.
type pod struct {
	namespace, name string
	uid             types.UID
	ip              string
	httpPort        int32
	readinessPath   string
	dir             string
	owner           string // the ReplicaSet's name
	started         time.Time
	// grace is the Pod's terminationGracePeriodSeconds: how long a stopping
	// process may take before it is killed.
	grace time.Duration

	// Written under Kubelet.mu, by the sync goroutine only (which may
	// read them without it).
	cmd      *exec.Cmd
	done     chan struct{} // closes when the current process exits
	restarts int32
	ready    bool // guarded by probeMu
	failures int  // consecutive failed probes; guarded by probeMu
	// deleteSeen is when the kubelet first saw the Pod's deletion;
	// stopping is set once its process is being stopped.
	deleteSeen time.Time
	stopping   bool
	deleting   bool
	exitedAt   time.Time
	lastExit   int // exit code of the last process
}

// issuerSelector matches the Pods of the Deployments render.Workload produces.
var issuerSelector = client.MatchingLabels{"app.kubernetes.io/name": "idtenant-issuer"}

// NodeName is the one node of the dev cluster.
const NodeName = "dev"

// restartDelay is the dev kubelet's crash-loop back-off: short, but a
// failing issuer does not restart every second.
const restartDelay = 2 * time.Second

// terminationDelay is how long a deleted Pod keeps serving before its
// process is asked to stop: the EndpointSlice controller drops it from the
// Service first, so the proxy stops sending it new connections (what a
// preStop sleep does in a cluster).
const terminationDelay = 2 * time.Second

// Run registers the node and converges processes on the Pods every second
// until ctx ends, then stops them all.
func (k *Kubelet) Run(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(k.Config)
	if err != nil {
		return fmt.Errorf("connecting to the control plane: %w", err)
	}
	k.mu.Lock()
	k.pods, k.ips, k.tokens = map[types.UID]*pod{}, map[string]types.UID{}, cs
	k.proxies = &proxies{client: k.Client, log: k.Log.WithName("proxy"), listeners: map[string]*proxy{}, failed: map[string]bool{}}
	k.mu.Unlock()
	defer k.stopAll()
	defer k.proxies.stopAll()
	node := &nodeHeartbeat{client: cs, log: k.Log}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := node.beat(ctx); err != nil && ctx.Err() == nil {
			k.Log.Error(err, "registering the dev node")
		}
		if err := k.sync(ctx); err != nil && ctx.Err() == nil {
			k.Log.Error(err, "running issuer Pods")
		}
		if err := k.proxies.sync(ctx); err != nil && ctx.Err() == nil {
			k.Log.Error(err, "serving issuer URLs")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (k *Kubelet) sync(ctx context.Context) error {
	var pods corev1.PodList
	if err := k.Client.List(ctx, &pods, issuerSelector); err != nil {
		return err
	}
	seen := map[types.UID]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		seen[p.UID] = true
		if err := k.syncPod(ctx, p); err != nil && ctx.Err() == nil {
			k.Log.Error(err, "issuer Pod", "pod", p.Namespace+"/"+p.Name)
		}
	}
	// Pods deleted without a grace period (or while dev was down).
	k.mu.Lock()
	var gone []*pod
	for uid, lp := range k.pods {
		if !seen[uid] && !lp.stopping {
			gone = append(gone, lp)
			delete(k.pods, uid)
			delete(k.ips, lp.ip)
		}
	}
	k.mu.Unlock()
	for _, lp := range gone {
		lp.stop()
	}
	return nil
}

// syncPod moves one Pod a step towards running on this node, or gone.
func (k *Kubelet) syncPod(ctx context.Context, p *corev1.Pod) error {
	switch {
	case p.Spec.NodeName == "":
		// No scheduler: every Pod goes to the one node.
		return k.tokens.CoreV1().Pods(p.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
		}, metav1.CreateOptions{})
	case p.Spec.NodeName != NodeName:
		return nil
	case p.DeletionTimestamp != nil:
		return k.terminate(ctx, p)
	}
	k.mu.Lock()
	lp := k.pods[p.UID]
	k.mu.Unlock()
	if lp == nil {
		var err error
		if lp, err = k.admit(ctx, p); err != nil {
			return err
		}
	}
	if err := k.keepRunning(ctx, p, lp); err != nil {
		return err
	}
	lp.probe()
	return k.reportStatus(ctx, p, lp)
}

// admit prepares a new Pod: its loopback IP, directory and first process.
func (k *Kubelet) admit(ctx context.Context, p *corev1.Pod) (*pod, error) {
	if len(p.Spec.Containers) != 1 {
		return nil, fmt.Errorf("want one container, got %d", len(p.Spec.Containers))
	}
	c := p.Spec.Containers[0]
	lp := &pod{namespace: p.Namespace, name: p.Name, uid: p.UID, started: time.Now(), readinessPath: "/ready", grace: 30 * time.Second}
	if g := p.Spec.TerminationGracePeriodSeconds; g != nil {
		lp.grace = time.Duration(*g) * time.Second
	}
	for _, port := range c.Ports {
		if port.Name == "http" {
			lp.httpPort = port.ContainerPort
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil {
		lp.readinessPath = c.ReadinessProbe.HTTPGet.Path
	}
	if owner := metav1.GetControllerOf(p); owner != nil {
		lp.owner = owner.Name
	}
	k.mu.Lock()
	lp.ip = k.allocateIP(p.UID)
	k.mu.Unlock()
	lp.dir = filepath.Join(k.Dir, p.Namespace, p.Name)
	if err := os.MkdirAll(lp.dir, 0o700); err != nil {
		return nil, err
	}
	if err := k.startProcess(ctx, p, lp); err != nil {
		k.mu.Lock()
		delete(k.ips, lp.ip)
		k.mu.Unlock()
		return nil, err
	}
	k.mu.Lock()
	k.pods[p.UID] = lp
	k.mu.Unlock()
	return lp, nil
}

// allocateIP picks a free address in 127.0.1.0/24 (then 127.0.2.0/24, …).
func (k *Kubelet) allocateIP(uid types.UID) string {
	for n := 256 + 1; ; n++ {
		if n%256 == 0 || n%256 == 255 {
			continue
		}
		ip := fmt.Sprintf("127.0.%d.%d", n/256, n%256)
		if _, used := k.ips[ip]; !used {
			k.ips[ip] = uid
			return ip
		}
	}
}

// startProcess runs the Pod's container as a process listening on the
// Pod's IP.
func (k *Kubelet) startProcess(ctx context.Context, p *corev1.Pod, lp *pod) error {
	c := p.Spec.Containers[0]
	done, started := make(chan struct{}), false
	defer func() {
		if !started {
			close(done)
		}
	}()
	kubeconfig, err := k.serviceAccountKubeconfig(ctx, p.Namespace, p.Spec.ServiceAccountName, lp.dir, done)
	if err != nil {
		return err
	}
	args := append([]string(nil), c.Args...)
	args = rebind(args, "--listen", lp.ip)
	args = rebind(args, "--metrics-listen", lp.ip)
	env := os.Environ()
	env = append(env, "KUBECONFIG="+kubeconfig)
	for _, e := range c.Env {
		env = append(env, e.Name+"="+downward(e, p.Namespace, p.Name))
	}
	logFile, err := os.OpenFile(filepath.Join(lp.dir, "issuer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(k.Binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logFile, logFile
	// If dev itself dies (even by SIGKILL), its issuers go too and free
	// their addresses for the next run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", k.Binary, err)
	}
	started = true
	k.mu.Lock()
	lp.cmd, lp.done = cmd, done
	k.mu.Unlock()
	probeMu.Lock()
	lp.ready = false
	probeMu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		k.mu.Lock()
		lp.exitedAt, lp.lastExit = time.Now(), code
		k.mu.Unlock()
		probeMu.Lock()
		lp.ready = false
		probeMu.Unlock()
		close(done)
	}()
	k.Log.Info("started issuer container", "pod", p.Namespace+"/"+p.Name, "ip", lp.ip, "log", logFile.Name())
	return nil
}

// keepRunning restarts an exited container (restartPolicy Always).
func (k *Kubelet) keepRunning(ctx context.Context, p *corev1.Pod, lp *pod) error {
	k.mu.Lock()
	done, exitedAt := lp.done, lp.exitedAt
	k.mu.Unlock()
	select {
	case <-done:
	default:
		return nil
	}
	if time.Since(exitedAt) < restartDelay {
		return nil
	}
	k.Log.Info("issuer container exited; restarting", "pod", p.Namespace+"/"+p.Name, "log", filepath.Join(lp.dir, "issuer.log"))
	if err := k.startProcess(ctx, p, lp); err != nil {
		k.mu.Lock()
		lp.exitedAt = time.Now() // back off before the next attempt
		k.mu.Unlock()
		return err
	}
	k.mu.Lock()
	lp.restarts++
	k.mu.Unlock()
	return nil
}

// probe runs the readiness probe once.
func (lp *pod) probe() {
	hc := http.Client{Timeout: 2 * time.Second}
	ready := false
	if resp, err := hc.Get("http://" + net.JoinHostPort(lp.ip, strconv.Itoa(int(lp.httpPort))) + lp.readinessPath); err == nil {
		resp.Body.Close()
		ready = resp.StatusCode >= 200 && resp.StatusCode < 400
	}
	probeMu.Lock()
	defer probeMu.Unlock()
	switch {
	case ready && lp.running():
		lp.ready, lp.failures = true, 0
	case !lp.running():
		lp.ready = false
	default:
		// Like a kubelet's failureThreshold (3): one slow answer on a
		// loaded machine does not take a ready Pod out of the Service.
		if lp.failures++; lp.failures >= readinessFailureThreshold {
			lp.ready = false
		}
	}
}

// readinessFailureThreshold is the probe's default failureThreshold.
const readinessFailureThreshold = 3

// probeMu guards pod.ready against the process-exit goroutine, which holds
// Kubelet.mu; the probe has no Kubelet at hand.
var probeMu sync.Mutex

func (lp *pod) running() bool {
	select {
	case <-lp.done:
		return false
	default:
		return true
	}
}

// reportStatus writes the Pod status a kubelet would.
func (k *Kubelet) reportStatus(ctx context.Context, p *corev1.Pod, lp *pod) error {
	probeMu.Lock()
	ready := lp.ready
	probeMu.Unlock()
	k.mu.Lock()
	restarts, running, exitCode := lp.restarts, lp.running(), lp.lastExit
	k.mu.Unlock()
	readyStatus := corev1.ConditionFalse
	if ready {
		readyStatus = corev1.ConditionTrue
	}
	started := metav1.NewTime(lp.started.Truncate(time.Second))
	c := p.Spec.Containers[0]
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: ready, RestartCount: restarts, Started: &running}
	if running {
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: started}
	} else {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: fmt.Sprintf("exited with code %d; restarting", exitCode)}
	}
	want := corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: "127.0.0.1", PodIP: lp.ip,
		HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}}, PodIPs: []corev1.PodIP{{IP: lp.ip}},
		StartTime: &started, ContainerStatuses: []corev1.ContainerStatus{cs},
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
			{Type: corev1.ContainersReady, Status: readyStatus},
			{Type: corev1.PodReady, Status: readyStatus},
		},
	}
	if statusEqual(p.Status, want) {
		return nil
	}
	now := metav1.Now()
	for i := range want.Conditions {
		want.Conditions[i].LastTransitionTime = now
		for _, old := range p.Status.Conditions {
			if old.Type == want.Conditions[i].Type && old.Status == want.Conditions[i].Status {
				want.Conditions[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	before := p.DeepCopy()
	p.Status = want
	return client.IgnoreNotFound(k.Client.Status().Patch(ctx, p, client.MergeFrom(before)))
}

// statusEqual compares what reportStatus decides, ignoring timestamps.
func statusEqual(a, b corev1.PodStatus) bool {
	if a.Phase != b.Phase || a.PodIP != b.PodIP || len(a.ContainerStatuses) != 1 || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	ac, bc := a.ContainerStatuses[0], b.ContainerStatuses[0]
	if ac.Ready != bc.Ready || ac.RestartCount != bc.RestartCount || (ac.State.Running == nil) != (bc.State.Running == nil) {
		return false
	}
	for i := range a.Conditions {
		if a.Conditions[i].Type != b.Conditions[i].Type || a.Conditions[i].Status != b.Conditions[i].Status {
			return false
		}
	}
	return true
}

// terminate finishes a Pod's graceful deletion as a kubelet does: the
// process keeps serving terminationDelay after the deletion was first seen
// (the proxy has stopped choosing it by then), is asked to stop (SIGINT,
// then SIGKILL after 5 s), and the Pod is deleted with a grace period of 0.
// Stopping runs beside the sync loop, so one slow process does not hold up
// every other Pod.
func (k *Kubelet) terminate(ctx context.Context, p *corev1.Pod) error {
	k.mu.Lock()
	lp := k.pods[p.UID]
	if lp != nil {
		lp.deleting = true
		if lp.deleteSeen.IsZero() {
			lp.deleteSeen = time.Now()
		}
		if time.Since(lp.deleteSeen) < terminationDelay || lp.stopping {
			k.mu.Unlock()
			return nil
		}
		lp.stopping = true
	}
	k.mu.Unlock()
	if lp == nil {
		return k.deletePod(ctx, p)
	}
	go func() {
		lp.stop()
		k.mu.Lock()
		delete(k.pods, p.UID)
		delete(k.ips, lp.ip) // free only once the process no longer holds it
		k.mu.Unlock()
		if err := k.deletePod(ctx, p); err != nil && ctx.Err() == nil {
			k.Log.Error(err, "removing a stopped Pod", "pod", p.Namespace+"/"+p.Name)
		}
	}()
	return nil
}

func (k *Kubelet) deletePod(ctx context.Context, p *corev1.Pod) error {
	zero := int64(0)
	err := k.tokens.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
