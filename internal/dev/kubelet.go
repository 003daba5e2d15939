package dev

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Kubelet does, for issuer Deployments only, what a kubelet and the
// Deployment controller do in a cluster: it runs each replica of the
// rendered pod template as a local process, with the pod's args and env, its
// ServiceAccount's token and the Downward API values, so the issuer runs
// exactly as configured in a cluster. The first replica of a Tenant listens
// on the Tenant's (loopback) issuer URL; the others on free ports.
type Kubelet struct {
	Client client.Client
	Config *rest.Config
	// Binary is the idtenant executable to run.
	Binary string
	// Dir receives each replica's kubeconfig, token and log.
	Dir string
	Log logr.Logger

	mu   sync.Mutex
	pods map[string][]*pod // by Deployment namespace/name
	// tokens requests ServiceAccount tokens for the processes.
	tokens kubernetes.Interface
}

type pod struct {
	name     string
	listen   string // the address the process serves on
	template string // hash of the pod template it runs
	// primary: this replica listens on the Tenant's issuer URL.
	primary bool
	cmd     *exec.Cmd
	done    chan struct{}
	exited  time.Time // set before done closes
}

// issuerSelector matches the Deployments render.Workload produces.
var issuerSelector = client.MatchingLabels{"app.kubernetes.io/name": "idtenant-issuer"}

// Run converges running processes on the Deployments every second until ctx
// ends, then stops them all.
func (k *Kubelet) Run(ctx context.Context) error {
	tokens, err := kubernetes.NewForConfig(k.Config)
	if err != nil {
		return fmt.Errorf("connecting to the control plane: %w", err)
	}
	k.pods, k.tokens = map[string][]*pod{}, tokens
	defer k.stopAll()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := k.sync(ctx); err != nil && ctx.Err() == nil {
			k.Log.Error(err, "running issuer processes")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (k *Kubelet) sync(ctx context.Context) error {
	var deps appsv1.DeploymentList
	if err := k.Client.List(ctx, &deps, issuerSelector); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range deps.Items {
		d := &deps.Items[i]
		key := d.Namespace + "/" + d.Name
		seen[key] = true
		if err := k.converge(ctx, d); err != nil {
			k.Log.Error(err, "issuer Deployment", "deployment", key)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, pods := range k.pods {
		if !seen[key] {
			for _, p := range pods {
				p.stop()
			}
			delete(k.pods, key)
		}
	}
	return nil
}

// converge starts and stops replicas so the Deployment's replica count runs
// its current template, replacing replicas of an older template one by one.
func (k *Kubelet) converge(ctx context.Context, d *appsv1.Deployment) error {
	key := d.Namespace + "/" + d.Name
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	raw, _ := json.Marshal(d.Spec.Template)
	sum := sha256.Sum256(raw)
	template := hex.EncodeToString(sum[:8])

	k.mu.Lock()
	pods := k.pods[key]
	k.mu.Unlock()
	var alive []*pod
	for _, p := range pods {
		select {
		case <-p.done:
			// Like a kubelet's CrashLoopBackOff, but short: wait before the
			// replacement so a failing issuer does not restart every second.
			if time.Since(p.exited) < 5*time.Second {
				alive = append(alive, p)
				continue
			}
			k.Log.Info("issuer process exited; restarting", "pod", p.name, "log", filepath.Join(k.Dir, d.Namespace, p.name, "issuer.log"))
			continue
		default:
		}
		if p.template != template || int32(len(alive)) >= want {
			p.stop()
			continue
		}
		alive = append(alive, p)
	}
	for int32(len(alive)) < want {
		hasPrimary := false
		for _, p := range alive {
			hasPrimary = hasPrimary || p.primary
		}
		p, err := k.start(ctx, d, template, !hasPrimary)
		if err != nil {
			k.mu.Lock()
			k.pods[key] = alive
			k.mu.Unlock()
			return err
		}
		alive = append(alive, p)
	}
	k.mu.Lock()
	k.pods[key] = alive
	k.mu.Unlock()
	return k.reportStatus(ctx, d, int32(len(alive)))
}

// reportStatus fills the Deployment status a cluster would show.
func (k *Kubelet) reportStatus(ctx context.Context, d *appsv1.Deployment, running int32) error {
	if d.Status.Replicas == running && d.Status.AvailableReplicas == running && d.Status.ObservedGeneration == d.Generation {
		return nil
	}
	before := d.DeepCopy()
	d.Status.ObservedGeneration = d.Generation
	d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = running, running, running, running
	return k.Client.Status().Patch(ctx, d, client.MergeFrom(before))
}

func (k *Kubelet) start(ctx context.Context, d *appsv1.Deployment, template string, first bool) (*pod, error) {
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		return nil, fmt.Errorf("want one container, got %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	name := d.Name + "-" + template[:6] + "-" + randSuffix()
	dir := filepath.Join(k.Dir, d.Namespace, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// done closes when the process exits, or now if it never starts; the
	// token refresher stops with it.
	done, started := make(chan struct{}), false
	defer func() {
		if !started {
			close(done)
		}
	}()
	kubeconfig, err := k.serviceAccountKubeconfig(ctx, d.Namespace, spec.ServiceAccountName, dir, done)
	if err != nil {
		return nil, err
	}
	listen, err := k.listenAddress(ctx, d, first)
	if err != nil {
		return nil, err
	}
	args := append([]string(nil), c.Args...)
	args = override(args, "--listen", listen)
	args = override(args, "--metrics-listen", "127.0.0.1:0")
	env := os.Environ()
	env = append(env, "KUBECONFIG="+kubeconfig)
	for _, e := range c.Env {
		env = append(env, e.Name+"="+downward(e, d.Namespace, name))
	}
	logFile, err := os.Create(filepath.Join(dir, "issuer.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(k.Binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logFile, logFile
	// If dev itself dies (even by SIGKILL), its issuers go too and free
	// their ports for the next run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", k.Binary, err)
	}
	started = true
	p := &pod{name: name, listen: listen, template: template, primary: first, cmd: cmd, done: done}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		p.exited = time.Now()
		close(p.done)
	}()
	k.Log.Info("started issuer process", "pod", name, "listen", listen, "log", logFile.Name())
	return p, nil
}

// listenAddress binds the first replica to the Tenant's issuer URL, which
// the samples keep on loopback, and the others to free loopback ports.
func (k *Kubelet) listenAddress(ctx context.Context, d *appsv1.Deployment, first bool) (string, error) {
	if !first {
		return freeLoopbackAddress()
	}
	owner := metav1.GetControllerOf(d)
	if owner == nil || owner.Kind != "Tenant" {
		return "127.0.0.1:0", nil
	}
	tenant := &v1alpha1.Tenant{}
	if err := k.Client.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: owner.Name}, tenant); err != nil {
		return "", err
	}
	u, err := url.Parse(tenant.Spec.IssuerURL)
	if err != nil {
		return "", err
	}
	host, port := u.Hostname(), u.Port()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		k.Log.Info("issuer URL is not on loopback; serving on a free port instead", "issuerURL", tenant.Spec.IssuerURL)
		return "127.0.0.1:0", nil
	}
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port), nil
}

// serviceAccountTokenTTL is how long the ServiceAccount tokens dev gives
// issuer processes live; they are replaced at 80% of it, as the kubelet
// refreshes projected tokens, so a dev session may run for days.
const serviceAccountTokenTTL = 24 * time.Hour

// serviceAccountKubeconfig requests a token for the pod's ServiceAccount
// (as the kubelet's projected token would), writes it to a file and a
// kubeconfig that reads the token from that file (client-go re-reads it
// every minute), and keeps replacing the token until done closes.
func (k *Kubelet) serviceAccountKubeconfig(ctx context.Context, namespace, sa, dir string, done <-chan struct{}) (string, error) {
	tokenPath := filepath.Join(dir, "token")
	if err := writeServiceAccountToken(ctx, k.tokens, namespace, sa, tokenPath); err != nil {
		return "", err
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-time.After(serviceAccountTokenTTL * 8 / 10):
			}
			if err := writeServiceAccountToken(ctx, k.tokens, namespace, sa, tokenPath); err != nil {
				k.Log.Error(err, "refreshing an issuer's ServiceAccount token; it will stop reaching the API server when the old one expires", "file", tokenPath)
			}
		}
	}()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["dev"] = &clientcmdapi.Cluster{Server: k.Config.Host, CertificateAuthorityData: k.Config.CAData}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{TokenFile: tokenPath}
	cfg.Contexts["dev"] = &clientcmdapi.Context{Cluster: "dev", AuthInfo: sa, Namespace: namespace}
	cfg.CurrentContext = "dev"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", err
	}
	return path, nil
}

// writeServiceAccountToken requests a fresh token and replaces the file
// atomically, so a reader never sees half a token.
func writeServiceAccountToken(ctx context.Context, cs kubernetes.Interface, namespace, sa, path string) error {
	expiry := int64(serviceAccountTokenTTL / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, sa, err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(tr.Status.Token), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// downward resolves the Downward API fields the issuer pod uses.
func downward(e corev1.EnvVar, namespace, podName string) string {
	if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil {
		return e.Value
	}
	switch e.ValueFrom.FieldRef.FieldPath {
	case "metadata.name":
		return podName
	case "metadata.namespace":
		return namespace
	}
	return ""
}

// override replaces or appends --flag=value in args.
func override(args []string, flag, value string) []string {
	for i, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			args[i] = flag + "=" + value
			return args
		}
	}
	return append(args, flag+"="+value)
}

// Replica is a running issuer process, as tests see it.
type Replica struct {
	Name string
	// URL is where this replica serves (the issuer URL's scheme and host
	// for the primary, another loopback port for the others).
	URL string
	PID int
}

// Replicas lists the live processes of the Deployment namespace/name,
// the primary first.
func (k *Kubelet) Replicas(namespace, name string) []Replica {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Replica
	for _, p := range k.pods[namespace+"/"+name] {
		select {
		case <-p.done:
			continue
		default:
		}
		r := Replica{Name: p.name, URL: "http://" + p.listen, PID: p.cmd.Process.Pid}
		if p.primary {
			out = append([]Replica{r}, out...)
		} else {
			out = append(out, r)
		}
	}
	return out
}

// Kill ends every process of the Deployment namespace/name with SIGKILL,
// as an OOM kill or a node failure would; the usual restart follows.
func (k *Kubelet) Kill(namespace, name string) {
	k.mu.Lock()
	pods := append([]*pod(nil), k.pods[namespace+"/"+name]...)
	k.mu.Unlock()
	for _, p := range pods {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *pod) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (k *Kubelet) stopAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, pods := range k.pods {
		for _, p := range pods {
			p.stop()
		}
	}
}

// freeLoopbackAddress picks a free loopback port for a non-primary replica
// (the port is known before the process binds it, so tests can reach it).
func freeLoopbackAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:5]
}
