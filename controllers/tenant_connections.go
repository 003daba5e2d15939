package controllers

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
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
	client *http.Client
	mu     sync.Mutex
	last   map[string]discoveryCheck
}

type discoveryCheck struct {
	at      time.Time
	reason  string // "" when the upstream answered for its issuer
	message string
}

func newDiscoveryChecks() *discoveryChecks {
	return &discoveryChecks{client: &http.Client{Timeout: connectionCheckTimeout}, last: map[string]discoveryCheck{}}
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
	// go-oidc fetches <issuer>/.well-known/openid-configuration and checks
	// that it names exactly this issuer, as the issuer will at login.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, d.client), issuerURL)
	switch {
	case err != nil && strings.Contains(err.Error(), "did not match"):
		res.reason, res.message = v1alpha1.ReasonIssuerMismatch, strings.TrimPrefix(err.Error(), "oidc: ")
	case err != nil:
		res.reason, res.message = v1alpha1.ReasonDiscoveryFailed, strings.TrimPrefix(err.Error(), "oidc: ")
	case p.Endpoint().AuthURL == "" || p.Endpoint().TokenURL == "":
		res.reason, res.message = v1alpha1.ReasonDiscoveryFailed, "the discovery document has no authorization_endpoint or token_endpoint"
	default:
		res.message = "discovery answered for this issuer"
	}
	d.mu.Lock()
	d.last[issuerURL] = res
	d.mu.Unlock()
	return res
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
	for _, conn := range tenant.Spec.Connections {
		st := v1alpha1.ConnectionStatus{Name: conn.Name, RedirectURI: issuerconfig.ConnectionRedirectURI(tenant.Spec.IssuerURL)}
		check := r.discovery.check(ctx, conn.OIDC.IssuerURL, now)
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
		obs.connectionsRecheck = minPositive(obs.connectionsRecheck, check.interval()-now.Sub(check.at))
		if ref := conn.OIDC.ClientSecretRef; ref != nil {
			key := client.ObjectKey{Namespace: tenant.Namespace, Name: ref.Name}
			data, err := r.users.readData(ctx, r.APIReader, key)
			switch {
			case apierrors.IsNotFound(err):
				st.Ready, st.Reason = false, v1alpha1.ReasonClientSecretMissing
				st.Message = fmt.Sprintf("Secret %s named in clientSecretRef does not exist", key)
			case err != nil:
				return fmt.Errorf("getting client secret of connection %s: %w", conn.Name, err)
			case len(data[ref.SecretKey()]) == 0:
				st.Ready, st.Reason = false, v1alpha1.ReasonClientSecretMissing
				st.Message = fmt.Sprintf("Secret %s has no key %q (clientSecretRef.key)", key, ref.SecretKey())
			default:
				obs.connectionSecrets[conn.Name] = strings.TrimSpace(string(data[ref.SecretKey()]))
			}
		}
		obs.connections = append(obs.connections, st)
	}
	return nil
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
		setCondition(conds, gen, v1alpha1.ConditionConnectionsReady, metav1.ConditionTrue, v1alpha1.ReasonConnectionsReady,
			fmt.Sprintf("All %d connections answered discovery for their issuer.", len(connections)))
		return
	}
	reason := v1alpha1.ReasonDiscoveryFailed
	for _, c := range connections {
		if !c.Ready {
			reason = c.Reason
			break
		}
	}
	setCondition(conds, gen, v1alpha1.ConditionConnectionsReady, metav1.ConditionFalse, reason,
		fmt.Sprintf("%d of %d connections cannot sign users in: %s. Users see an error page when they choose them.",
			len(failing), len(connections), strings.Join(failing, "; ")))
}
