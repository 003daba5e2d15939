package dev

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// proxies serve each Tenant's loopback issuer URL the way kube-proxy serves
// a Service: every connection accepted on the issuer URL's address goes to
// a ready endpoint of the Tenant's issuer Service. Scaling and rolling
// updates are then what a browser sees in a cluster.
type proxies struct {
	client    client.Client
	log       logr.Logger
	mu        sync.Mutex
	listeners map[string]*proxy // by listen address
	failed    map[string]bool   // addresses that could not be bound
}

type proxy struct {
	ln                 net.Listener
	namespace, service string

	mu sync.Mutex
	// known are the endpoints last read: while the API server cannot
	// answer, connections keep going to them, as kube-proxy keeps its
	// rules.
	known []string
}

// endpointWait is how long a connection waits for a ready endpoint (a
// Tenant just created, every replica restarting) before it is closed.
const endpointWait = 10 * time.Second

// sync listens on the issuer URL of every Tenant that serves on loopback
// and stops listening for Tenants that are gone.
func (ps *proxies) sync(ctx context.Context) error {
	var tenants v1alpha1.TenantList
	if err := ps.client.List(ctx, &tenants); err != nil {
		return err
	}
	type service struct{ namespace, name string }
	want := map[string]service{}
	// Of two Tenants with one issuer URL the older one serves it, as the
	// operator decides (the younger is Stalled, IssuerURLConflict).
	items := tenants.Items
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	for _, t := range items {
		if t.DeletionTimestamp != nil {
			continue
		}
		if addr, ok := loopbackAddress(t.Spec.IssuerURL); ok {
			if _, taken := want[addr]; !taken {
				want[addr] = service{namespace: t.Namespace, name: issuerconfig.IssuerName(t.Name)}
			}
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for addr, p := range ps.listeners {
		if w, ok := want[addr]; !ok || w.namespace != p.namespace || w.name != p.service {
			_ = p.ln.Close()
			delete(ps.listeners, addr)
		}
	}
	for addr, w := range want {
		if _, ok := ps.listeners[addr]; ok {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if !ps.failed[addr] { // once, not every second
				ps.log.Error(err, "cannot serve the issuer URL", "address", addr, "service", w.namespace+"/"+w.name)
			}
			ps.failed[addr] = true
			continue
		}
		delete(ps.failed, addr)
		p := &proxy{ln: ln, namespace: w.namespace, service: w.name}
		ps.listeners[addr] = p
		go ps.serve(ctx, p)
		ps.log.Info("serving issuer URL", "address", addr, "service", w.namespace+"/"+w.name)
	}
	// Endpoints are read here, once a second (kube-proxy follows a watch),
	// not per connection.
	for _, p := range ps.listeners {
		ps.refresh(ctx, p)
	}
	return nil
}

// loopbackAddress is where an issuer URL on loopback is served.
func loopbackAddress(issuerURL string) (string, bool) {
	u, err := url.Parse(issuerURL)
	if err != nil || u.Scheme != "http" {
		return "", false
	}
	host, port := u.Hostname(), u.Port()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", false
	}
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port), true
}

func (ps *proxies) serve(ctx context.Context, p *proxy) {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		go ps.forward(ctx, p, conn)
	}
}

// forward connects conn to a ready endpoint, chosen per connection.
func (ps *proxies) forward(ctx context.Context, p *proxy, conn net.Conn) {
	defer conn.Close()
	var backend net.Conn
	deadline := time.Now().Add(endpointWait)
	for backend == nil {
		if addrs := p.endpoints(); len(addrs) > 0 {
			b, err := net.DialTimeout("tcp", addrs[rand.IntN(len(addrs))], 2*time.Second)
			if err == nil {
				backend = b
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok && err == nil {
			_ = tc.CloseWrite() // a half-close travels on
		} else {
			// A reset on one side ends both: the other copy must not
			// wait for a peer that is gone.
			_ = conn.Close()
			_ = backend.Close()
		}
		done <- struct{}{}
	}
	go pipe(backend, conn)
	go pipe(conn, backend)
	<-done
	<-done
}

// endpoints are the ready addresses last read.
func (p *proxy) endpoints() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known
}

// refresh reads the addresses of the Service's ready Pods on its "http"
// target port: what the EndpointSlice controller would list. The dev Pods'
// loopback IPs are refused in EndpointSlices (the API server validates
// them), so the proxy reads the ready Pods behind the Service's selector
// itself. While the API server cannot answer, the last known endpoints
// stay, as kube-proxy keeps its rules; a Service that is gone has none.
func (ps *proxies) refresh(ctx context.Context, p *proxy) {
	out, err := ps.readEndpoints(ctx, p)
	if err != nil && !apierrors.IsNotFound(err) {
		return
	}
	p.mu.Lock()
	p.known = out
	p.mu.Unlock()
}

func (ps *proxies) readEndpoints(ctx context.Context, p *proxy) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var svc corev1.Service
	if err := ps.client.Get(rctx, client.ObjectKey{Namespace: p.namespace, Name: p.service}, &svc); err != nil {
		return nil, err
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, nil
	}
	target := ""
	for _, sp := range svc.Spec.Ports {
		if sp.Name == "http" {
			target = sp.TargetPort.String()
		}
	}
	var pods corev1.PodList
	if err := ps.client.List(rctx, &pods, client.InNamespace(p.namespace), client.MatchingLabels(svc.Spec.Selector)); err != nil {
		return nil, err
	}
	var out []string
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil || pod.Status.PodIP == "" || !podReady(&pod) {
			continue
		}
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == target || strconv.Itoa(int(cp.ContainerPort)) == target {
					out = append(out, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(cp.ContainerPort))))
				}
			}
		}
	}
	return out, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (ps *proxies) stopAll() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for addr, p := range ps.listeners {
		_ = p.ln.Close()
		delete(ps.listeners, addr)
	}
}
