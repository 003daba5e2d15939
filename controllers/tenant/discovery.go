package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
)

// How often an upstream's discovery is checked: a working upstream every
// few minutes, a failing one sooner, so a fix shows quickly.
const (
	connectionRecheck       = 5 * time.Minute
	connectionFailedRecheck = 30 * time.Second
	connectionCheckTimeout  = 5 * time.Second
	// concurrentDiscoveryChecks bounds the checks in flight for the whole
	// operator, whatever the number of Tenants and connections;
	// queuedDiscoveryChecks the checks started or waiting for a slot, and
	// queuedPerTenant those one Tenant may have asked for, so that an
	// editor re-pointing connections at slow hosts cannot grow the queue
	// or hold up other Tenants' checks. A check not started for lack of
	// room is asked for again at the Tenant's next recheck.
	concurrentDiscoveryChecks = 8
	queuedDiscoveryChecks     = 256
	queuedPerTenant           = 16
)

// discoveryChecks runs each upstream's live discovery check in the
// background, off the reconcile path (security review N9): a Tenant's
// reconcile reads the last result of each issuer its connections name and
// never waits for a network round trip; an issuer without a fresh result is
// checked by one of a few workers, and every Tenant that asked for it is
// woken when the check ends. Results are shared by every Tenant naming the
// same issuer URL.
type discoveryChecks struct {
	mu      sync.Mutex
	last    map[string]discoveryCheck
	running map[string]bool
	// askers are the Tenants to wake when an issuer's check ends.
	askers map[string]map[types.NamespacedName]bool
	slots  chan struct{}
	// wake tells the Tenant reconciler; sends never block (a full channel
	// drops the wake, and the Tenant's recheck timer catches up).
	wake chan event.TypedGenericEvent[client.Object]
	// fetch checks one issuer (fetchDiscovery; replaced in tests).
	fetch func(ctx context.Context, issuerURL string) (reason, message string)
	now   func() time.Time
}

type discoveryCheck struct {
	at      time.Time
	reason  string // "" when the upstream answered for its issuer
	message string
	// pending: never checked yet; a check is under way.
	pending bool
}

func newDiscoveryChecks(now func() time.Time) *discoveryChecks {
	return &discoveryChecks{
		last: map[string]discoveryCheck{}, running: map[string]bool{},
		askers: map[string]map[types.NamespacedName]bool{},
		slots:  make(chan struct{}, concurrentDiscoveryChecks),
		wake:   make(chan event.TypedGenericEvent[client.Object], 1024),
		fetch: func(ctx context.Context, issuerURL string) (string, string) {
			return fetchDiscovery(ctx, clientFor(issuerURL, http.ProxyFromEnvironment), issuerURL)
		},
		now: now,
	}
}

// lookup returns the last check of each issuer the connections name, and
// starts a check in the background of every issuer without a fresh one
// (still returning the stale result, or a pending one the first time).
// tenant is woken when those checks end.
func (d *discoveryChecks) lookup(tenant types.NamespacedName, connections []v1alpha1.Connection, now time.Time) map[string]discoveryCheck {
	out := map[string]discoveryCheck{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, conn := range connections {
		issuer := conn.OIDC.IssuerURL
		if _, done := out[issuer]; done {
			continue
		}
		last, ok := d.last[issuer]
		if !ok {
			last = discoveryCheck{pending: true}
		}
		out[issuer] = last
		if ok && now.Sub(last.at) < last.interval() {
			continue
		}
		if !d.running[issuer] {
			if len(d.running) >= queuedDiscoveryChecks || d.queuedFor(tenant) >= queuedPerTenant {
				continue
			}
			d.running[issuer] = true
			go d.run(issuer)
		}
		if d.askers[issuer] == nil {
			d.askers[issuer] = map[types.NamespacedName]bool{}
		}
		d.askers[issuer][tenant] = true
	}
	return out
}

// queuedFor counts the checks under way that tenant asked for (d.mu held).
func (d *discoveryChecks) queuedFor(tenant types.NamespacedName) int {
	n := 0
	for issuer := range d.running {
		if d.askers[issuer][tenant] {
			n++
		}
	}
	return n
}

// run checks issuer once a slot is free, records the result and wakes the
// Tenants that asked.
func (d *discoveryChecks) run(issuer string) {
	d.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*connectionCheckTimeout)
	reason, message := d.fetch(ctx, issuer)
	cancel()
	<-d.slots

	now := d.now()
	d.mu.Lock()
	d.last[issuer] = discoveryCheck{at: now, reason: reason, message: message}
	delete(d.running, issuer)
	askers := d.askers[issuer]
	delete(d.askers, issuer)
	for u, c := range d.last { // forget issuers no Tenant has asked about lately
		if now.Sub(c.at) > 2*connectionRecheck && !d.running[u] {
			delete(d.last, u)
		}
	}
	d.mu.Unlock()
	for key := range askers {
		select {
		case d.wake <- event.TypedGenericEvent[client.Object]{Object: &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}}:
		default:
		}
	}
}

func (c discoveryCheck) interval() time.Duration {
	if c.reason != "" {
		return connectionFailedRecheck
	}
	return connectionRecheck
}

// clientFor is the HTTP client that checks issuerURL's discovery: no
// redirects (one could lead the operator from an https issuer to plain
// http or an internal address: discovery must answer at the issuer's own
// URL, OpenID Connect Discovery 1.0, 4), and a dialer that refuses the
// addresses discovery_guard.go names.
func clientFor(issuerURL string, proxy func(*http.Request) (*url.URL, error)) *discoveryClient {
	dc := &discoveryClient{}
	loopback := loopbackIssuer(issuerURL)
	guarded := &net.Dialer{Timeout: connectionCheckTimeout, Control: dialControl(loopback, &dc.private)}
	plain := &net.Dialer{Timeout: connectionCheckTimeout}
	// The egress proxy is the operator's own configuration: it is dialed
	// as it is, and the target is checked before it is asked
	// (guardedProxy).
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		if p, _ := dc.proxyAddress.Load().(string); p != "" && address == p {
			return plain.DialContext(ctx, network, address)
		}
		return guarded.DialContext(ctx, network, address)
	}
	viaProxy := func(req *http.Request) (*url.URL, error) {
		u, err := proxy(req)
		if u != nil {
			dc.proxyAddress.Store(hostPort(u))
		}
		return u, err
	}
	transport := &http.Transport{DialContext: dial, TLSHandshakeTimeout: connectionCheckTimeout,
		ResponseHeaderTimeout: connectionCheckTimeout, DisableKeepAlives: true, Proxy: guardedProxy(viaProxy, loopback, &dc.private)}
	dc.hc = &http.Client{Timeout: connectionCheckTimeout, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return dc
}

// discoveryClient is one check's HTTP client, and whether it connected to
// a private address (whose failures are reported coarser).
type discoveryClient struct {
	hc      *http.Client
	private atomic.Bool
	// proxyAddress is the egress proxy's host:port, once one is used.
	proxyAddress atomic.Value
}

// hostPort is where the transport dials a proxy URL: its host and port,
// the scheme's default port when it names none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// maxDiscoveryBytes bounds what the operator reads of a discovery
// document: real ones are a few kilobytes.
const maxDiscoveryBytes = 256 << 10

// fetchDiscovery fetches <issuer>/.well-known/openid-configuration and
// checks that it names exactly this issuer and its endpoints, as the issuer
// will at login. The reason is "" when it does. Messages never quote the
// response body: whoever may edit a Tenant must not read internal error
// pages through its status.
func fetchDiscovery(ctx context.Context, dc *discoveryClient, issuerURL string) (reason, message string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuerURL, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return v1alpha1.ReasonDiscoveryFailed, "the issuer URL cannot be requested"
	}
	resp, err := dc.hc.Do(req)
	if err != nil {
		return v1alpha1.ReasonDiscoveryFailed, "discovery request failed: " + transportError(err, dc.private.Load())
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v1alpha1.ReasonDiscoveryFailed, fmt.Sprintf("discovery answered HTTP %d, want 200 (redirects are not followed)", resp.StatusCode)
	}
	var doc struct {
		Issuer   string `json:"issuer"`
		AuthURL  string `json:"authorization_endpoint"`
		TokenURL string `json:"token_endpoint"`
		JWKSURL  string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBytes)).Decode(&doc); err != nil {
		return v1alpha1.ReasonDiscoveryFailed, "the discovery document is not JSON (or larger than 256 KiB)"
	}
	switch {
	case doc.Issuer != issuerURL:
		return v1alpha1.ReasonIssuerMismatch, fmt.Sprintf("the discovery document names issuer %q, not %q; issuerURL must be its issuer exactly", status.Truncate(doc.Issuer, 256), issuerURL)
	case doc.AuthURL == "" || doc.TokenURL == "" || doc.JWKSURL == "":
		return v1alpha1.ReasonDiscoveryFailed, "the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri"
	}
	return "", "discovery answered for this issuer"
}
