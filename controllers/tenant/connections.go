package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// How often an upstream's discovery is checked: a working upstream every
// few minutes, a failing one sooner, so a fix shows quickly.
const (
	connectionRecheck       = 5 * time.Minute
	connectionFailedRecheck = 30 * time.Second
	connectionCheckTimeout  = 5 * time.Second
)

// discoveryChecks remembers each upstream's last live discovery check,
// shared by every Tenant naming the same issuer URL.
type discoveryChecks struct {
	mu   sync.Mutex
	last map[string]discoveryCheck
}

type discoveryCheck struct {
	at      time.Time
	reason  string // "" when the upstream answered for its issuer
	message string
}

func newDiscoveryChecks() *discoveryChecks {
	return &discoveryChecks{last: map[string]discoveryCheck{}}
}

// clientFor is the HTTP client that checks issuerURL's discovery: no
// redirects (one could lead the operator from an https issuer to plain
// http or an internal address: discovery must answer at the issuer's own
// URL, OpenID Connect Discovery 1.0, 4), and a dialer that refuses the
// addresses discovery_guard.go names.
func clientFor(issuerURL string) *http.Client {
	dialer := &net.Dialer{Timeout: connectionCheckTimeout, Control: dialControl(loopbackIssuer(issuerURL))}
	transport := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: connectionCheckTimeout,
		ResponseHeaderTimeout: connectionCheckTimeout, DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment}
	return &http.Client{Timeout: connectionCheckTimeout, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// maxDiscoveryBytes bounds what the operator reads of a discovery
// document: real ones are a few kilobytes.
const maxDiscoveryBytes = 256 << 10

// fetchDiscovery fetches <issuer>/.well-known/openid-configuration and
// checks that it names exactly this issuer and its endpoints, as the issuer
// will at login. The reason is "" when it does. Messages never quote the
// response body: whoever may edit a Tenant must not read internal error
// pages through its status.
func fetchDiscovery(ctx context.Context, hc *http.Client, issuerURL string) (reason, message string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuerURL, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return v1alpha1.ReasonDiscoveryFailed, "the issuer URL cannot be requested"
	}
	resp, err := hc.Do(req)
	if err != nil {
		return v1alpha1.ReasonDiscoveryFailed, "discovery request failed: " + transportError(err)
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

// check returns the upstream's discovery result, fetching it again when the
// last one is older than its recheck interval.
func (d *discoveryChecks) check(ctx context.Context, issuerURL string, now time.Time) discoveryCheck {
	d.mu.Lock()
	last, ok := d.last[issuerURL]
	d.mu.Unlock()
	if ok && now.Sub(last.at) < last.interval() {
		return last
	}
	res := discoveryCheck{at: now}
	res.reason, res.message = fetchDiscovery(ctx, clientFor(issuerURL), issuerURL)
	d.mu.Lock()
	d.last[issuerURL] = res
	for u, c := range d.last { // forget issuers no Tenant has asked about lately
		if now.Sub(c.at) > 2*connectionRecheck {
			delete(d.last, u)
		}
	}
	d.mu.Unlock()
	return res
}

// checkAll checks the issuers at once, so a Tenant's reconcile waits for
// the slowest upstream (connectionCheckTimeout at most), not their sum.
func (d *discoveryChecks) checkAll(ctx context.Context, connections []v1alpha1.Connection, now time.Time) map[string]discoveryCheck {
	out := map[string]discoveryCheck{}
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, conn := range connections {
		issuer := conn.OIDC.IssuerURL
		if seen[issuer] {
			continue
		}
		seen[issuer] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := d.check(ctx, issuer, now)
			mu.Lock()
			out[issuer] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (c discoveryCheck) interval() time.Duration {
	if c.reason != "" {
		return connectionFailedRecheck
	}
	return connectionRecheck
}

// readConnections reads each connection's client secret and checks its
// upstream's discovery live. A connection that fails is reported in
// status.connections and the ConnectionsReady condition; the tenant keeps
// serving its other ways in. The secrets go into the issuer configuration
// only.
func (r *TenantReconciler) readConnections(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	if len(tenant.Spec.Connections) == 0 {
		return nil
	}
	now := r.now()
	obs.connectionSecrets = map[string]string{}
	obs.connectionEpochs = map[string]int64{}
	since := map[string]int64{}
	for _, c := range tenant.Status.Connections {
		since[c.Name] = c.Since
	}
	checks := r.discovery.checkAll(ctx, tenant.Spec.Connections, now)
	for _, conn := range tenant.Spec.Connections {
		st := v1alpha1.ConnectionStatus{Name: conn.Name, RedirectURI: issuerconfig.ConnectionRedirectURI(tenant.Spec.IssuerURL),
			Since: since[conn.Name]}
		if st.Since == 0 {
			st.Since = tenant.Generation // new, or back after a removal
		}
		obs.connectionEpochs[conn.Name] = st.Since
		check := checks[conn.OIDC.IssuerURL]
		at := metav1.NewTime(check.at)
		st.LastChecked = &at
		st.Ready, st.Reason, st.Message = check.reason == "", check.reason, check.message
		if st.Ready {
			// Said where it matters: a user who signs in upstream gets
			// this Tenant's session, not the upstream's.
			st.Reason = v1alpha1.ReasonConnectionsReady
			st.Message = fmt.Sprintf("%s; its users' sessions end after %s idle or %s in all, this Tenant's spec.session, whatever the upstream's own session does",
				check.message, obs.effective.Session.Inactivity.Duration, obs.effective.Session.Absolute.Duration)
		}
		if warning := unrestricted(conn); st.Ready && warning != "" {
			st.Reason, st.Message = v1alpha1.ReasonUnrestricted, warning
		}
		obs.connectionsRecheck = minPositive(obs.connectionsRecheck, check.interval()-now.Sub(check.at))
		if ref := conn.OIDC.ClientSecretRef; ref != nil {
			key := client.ObjectKey{Namespace: tenant.Namespace, Name: ref.Name}
			read, err := r.users.readData(ctx, r.APIReader, key)
			switch {
			case apierrors.IsNotFound(err):
				st.Ready, st.Reason = false, v1alpha1.ReasonClientSecretMissing
				st.Message = fmt.Sprintf("Secret %s named in clientSecretRef does not exist", key)
			case err != nil:
				return fmt.Errorf("getting client secret of connection %s: %w", conn.Name, err)
			case read.labels[issuerconfig.LabelManagedBy] == issuerconfig.ManagedByValue:
				// The operator's own (signing keys, state key, issuer
				// configuration, credentials): never sent anywhere.
				st.Ready, st.Reason = false, v1alpha1.ReasonClientSecretRefused
				st.Message = fmt.Sprintf("Secret %s is one of idtenant's own (%s=%s); a connection's client secret must be a Secret of yours", key, issuerconfig.LabelManagedBy, issuerconfig.ManagedByValue)
			case read.annotations[v1alpha1.AnnotationConnectionIssuer] != conn.OIDC.IssuerURL:
				st.Ready, st.Reason = false, v1alpha1.ReasonClientSecretRefused
				st.Message = fmt.Sprintf("Secret %s does not name this connection's issuer in its annotation %s, by which whoever may write it says where its value may be sent: kubectl -n %s annotate --overwrite secret %s %s=%s",
					key, v1alpha1.AnnotationConnectionIssuer, key.Namespace, key.Name, v1alpha1.AnnotationConnectionIssuer, conn.OIDC.IssuerURL)
			case len(read.data[ref.SecretKey()]) == 0:
				st.Ready, st.Reason = false, v1alpha1.ReasonClientSecretMissing
				st.Message = fmt.Sprintf("Secret %s has no key %q (clientSecretRef.key)", key, ref.SecretKey())
			default:
				obs.connectionSecrets[conn.Name] = strings.TrimSpace(string(read.data[ref.SecretKey()]))
			}
		}
		obs.connections = append(obs.connections, st)
	}
	return nil
}

// publicIssuers are providers anyone can open an account at (security
// review N3): a connection to one without allowedDomains or allowedGroups
// admits the internet.
var publicIssuers = []string{
	"https://accounts.google.com",
	"https://gitlab.com",
	"https://appleid.apple.com",
	"https://login.microsoftonline.com/common/v2.0",
	"https://login.microsoftonline.com/consumers/v2.0",
	"https://login.microsoftonline.com/organizations/v2.0",
	"https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", // Microsoft personal accounts
}

// unrestricted says why a connection admits the internet, or "".
func unrestricted(conn v1alpha1.Connection) string {
	o := conn.OIDC
	if len(o.AllowedDomains) > 0 || len(o.AllowedGroups) > 0 ||
		!slices.Contains(publicIssuers, strings.TrimSuffix(strings.ToLower(o.IssuerURL), "/")) {
		return ""
	}
	return fmt.Sprintf("anyone with an account at %s can sign in to every Application of this Tenant, and anyone can open one there; set oidc.allowedDomains or oidc.allowedGroups", o.IssuerURL)
}

func minPositive(a, b time.Duration) time.Duration {
	b = max(b, time.Second)
	if a == 0 || b < a {
		return b
	}
	return a
}

// setConnectionsCondition sets ConnectionsReady from status.connections.
func setConnectionsCondition(conds *[]metav1.Condition, gen int64, connections []v1alpha1.ConnectionStatus) {
	var failing []string
	for _, c := range connections {
		if !c.Ready {
			failing = append(failing, fmt.Sprintf("%s (%s: %s)", c.Name, c.Reason, c.Message))
		}
	}
	sort.Strings(failing)
	if len(failing) == 0 {
		msg := fmt.Sprintf("All %d connections answered discovery for their issuer.", len(connections))
		reason := v1alpha1.ReasonConnectionsReady
		for _, c := range connections {
			if c.Reason == v1alpha1.ReasonUnrestricted {
				reason = v1alpha1.ReasonUnrestricted
				msg += fmt.Sprintf(" Connection %s is unrestricted: %s.", c.Name, c.Message)
			}
		}
		status.SetCondition(conds, gen, v1alpha1.ConditionConnectionsReady, metav1.ConditionTrue, reason, msg)
		return
	}
	reason := v1alpha1.ReasonDiscoveryFailed
	for _, c := range connections {
		if !c.Ready {
			reason = c.Reason
			break
		}
	}
	status.SetCondition(conds, gen, v1alpha1.ConditionConnectionsReady, metav1.ConditionFalse, reason,
		fmt.Sprintf("%d of %d connections cannot sign users in: %s. Users see an error page when they choose them.",
			len(failing), len(connections), strings.Join(failing, "; ")))
}
