package tenant

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

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
	checks := r.discovery.lookup(client.ObjectKeyFromObject(tenant), tenant.Spec.Connections, now)
	for _, conn := range tenant.Spec.Connections {
		st := v1alpha1.ConnectionStatus{Name: conn.Name, RedirectURI: issuerconfig.ConnectionRedirectURI(tenant.Spec.IssuerURL),
			Since: since[conn.Name]}
		if st.Since == 0 {
			st.Since = tenant.Generation // new, or back after a removal
		}
		obs.connectionEpochs[conn.Name] = st.Since
		check := checks[conn.OIDC.IssuerURL]
		st.Ready, st.Reason, st.Message = check.reason == "", check.reason, check.message
		if check.pending {
			// Checked in the background; the Tenant is woken with the
			// result.
			st.Ready, st.Reason, st.Message = false, v1alpha1.ReasonDiscoveryPending, "checking the upstream's discovery document"
		} else {
			at := metav1.NewTime(check.at)
			st.LastChecked = &at
		}
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
		if check.pending {
			// Woken when the check ends; asked again should it not have
			// started (the queue was full).
			obs.connectionsRecheck = minPositive(obs.connectionsRecheck, connectionFailedRecheck)
		} else {
			obs.connectionsRecheck = minPositive(obs.connectionsRecheck, check.interval()-now.Sub(check.at))
		}
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
	var failing, checking []string
	for _, c := range connections {
		switch {
		case c.Reason == v1alpha1.ReasonDiscoveryPending:
			checking = append(checking, c.Name)
		case !c.Ready:
			failing = append(failing, fmt.Sprintf("%s (%s: %s)", c.Name, c.Reason, c.Message))
		}
	}
	sort.Strings(failing)
	if len(failing) == 0 && len(checking) > 0 {
		sort.Strings(checking)
		status.SetCondition(conds, gen, v1alpha1.ConditionConnectionsReady, metav1.ConditionUnknown, v1alpha1.ReasonDiscoveryPending,
			fmt.Sprintf("Checking the upstream discovery of connections %s; the status follows when the checks end.", strings.Join(checking, ", ")))
		return
	}
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
		if !c.Ready && c.Reason != v1alpha1.ReasonDiscoveryPending {
			reason = c.Reason
			break
		}
	}
	status.SetCondition(conds, gen, v1alpha1.ConditionConnectionsReady, metav1.ConditionFalse, reason,
		fmt.Sprintf("%d of %d connections cannot sign users in: %s. Users see an error page when they choose them.",
			len(failing), len(connections), strings.Join(failing, "; ")))
}
