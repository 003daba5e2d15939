package cli

import (
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// node is one line of the explanation tree.
type node struct {
	text     string
	children []*node
}

func (n *node) add(format string, args ...any) *node {
	c := &node{text: fmt.Sprintf(format, args...)}
	n.children = append(n.children, c)
	return c
}

// write draws the tree with box-drawing prefixes, as `tree` does.
func (n *node) write(w io.Writer, prefix string, last, root bool) {
	switch {
	case root:
		fmt.Fprintln(w, n.text)
	case last:
		fmt.Fprintln(w, prefix+"└─ "+n.text)
		prefix += "   "
	default:
		fmt.Fprintln(w, prefix+"├─ "+n.text)
		prefix += "│  "
	}
	for i, c := range n.children {
		c.write(w, prefix, i == len(n.children)-1, false)
	}
}

// explain writes the Tenant → Application → APIs tree of v: every effective
// lifetime with the setting that decided it (and the configured value when
// the session cut it), the clamps and advisories, which replicas serve
// which generation, and the live check.
func explain(w io.Writer, v *view) {
	app := v.app
	var root *node
	if t := v.tenant; t != nil {
		root = tenantNode(t, v.replicas)
	} else {
		root = &node{text: fmt.Sprintf("Tenant %s (cannot be read: %v)", tenantRef(app), v.tenantErr)}
	}
	if lc := v.live; lc != nil {
		liveNode(root, lc)
	}

	a := root.add("Application %s/%s (%s)  %s", app.Namespace, app.Name, app.Spec.Type, readySummary(app.Status.Conditions, app.Generation, app.Status.ObservedGeneration))
	if app.Status.ClientID != "" {
		a.add("client_id %s", app.Status.ClientID)
	}
	if e := app.Status.Effective; e != nil {
		if e.IDToken != nil {
			a.add("ID token       %s", lifetime(*e.IDToken))
		} else {
			a.add("ID token       none (machine-to-machine)")
		}
		if s := e.Session; s != nil {
			a.add("session idle   %s", lifetime(s.InactivityTimeout))
			a.add("session max    %s", lifetime(s.AbsoluteTimeout))
		}
		if r := e.RefreshToken; r != nil {
			rt := a.add("refresh token  rotation %s, bound to %s", r.Rotation, r.SessionBinding)
			rt.add("idle      %s", lifetime(r.InactivityLifetime))
			rt.add("absolute  %s", lifetime(r.AbsoluteLifetime))
			rt.add("retry     %s", lifetime(r.ReuseInterval))
		}
	} else {
		a.add("no effective lifetimes yet: %s", conditionMessage(app.Status.Conditions, v1alpha1.ConditionReady))
	}
	for _, api := range v.apis {
		ref := api.Namespace + "/" + api.Name
		n := a.add("API %s  %s  %s", ref, api.Spec.Audience, readySummary(api.Status.Conditions, api.Generation, api.Status.ObservedGeneration))
		if app.Status.Effective != nil {
			for _, at := range app.Status.Effective.AccessTokens {
				if at.API == ref {
					n.add("%-8s access token  %s  (%s, %s)", at.Flow, lifetime(at.Lifetime), at.SigningAlgorithm, at.FlowRule)
				}
			}
		}
	}
	for _, m := range v.missing {
		a.add("API %s", m)
	}
	if c := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionLifetimesClamped); c != nil && c.Status == "True" {
		a.add("clamped: %s", c.Message)
	}
	for _, adv := range app.Status.Advisories {
		a.add("advisory %s: %s", adv.Reason, adv.Message)
	}
	root.write(w, "", true, true)
}

// tenantNode is the root of a tree about a Tenant: its issuer, sessions,
// signing, issuer replicas, ways to sign in and advisories.
func tenantNode(t *v1alpha1.Tenant, replicas []replica) *node {
	root := &node{text: fmt.Sprintf("Tenant %s/%s  %s", t.Namespace, t.Name, readySummary(t.Status.Conditions, t.Generation, t.Status.ObservedGeneration))}
	root.add("issuer URL %s", t.Spec.IssuerURL)
	if e := t.Status.Effective; e != nil {
		s := root.add("session, for every Application of the Tenant")
		s.add("inactivity  %s", lifetime(e.Session.InactivityTimeout))
		s.add("absolute    %s", lifetime(e.Session.AbsoluteTimeout))
		root.add("signing %s, keys rotate every %s, policy mode %s", e.SigningAlgorithm, e.KeyRotationPeriod.Duration, e.PolicyMode)
	}
	issuerNode(root, t, replicas)
	connectionsNode(root, t)
	for _, a := range t.Status.Advisories {
		root.add("advisory %s: %s", a.Reason, a.Message)
	}
	return root
}

// connectionsNode lists the ways users sign in: the local directory and
// each upstream connection with what its last discovery check found.
func connectionsNode(root *node, t *v1alpha1.Tenant) {
	if t.Spec.UsersSecretRef == nil && len(t.Spec.Connections) == 0 {
		return
	}
	n := root.add("sign-in, sessions as above for every way in")
	if ref := t.Spec.UsersSecretRef; ref != nil {
		n.add("local users from Secret %s", ref.Name)
	}
	checked := map[string]v1alpha1.ConnectionStatus{}
	for _, c := range t.Status.Connections {
		checked[c.Name] = c
	}
	for _, c := range t.Spec.Connections {
		st, ok := checked[c.Name]
		switch {
		case !ok:
			n.add("connection %s  %s  not checked yet", c.Name, c.OIDC.IssuerURL)
		case st.Ready:
			n.add("connection %s  %s  ready; register %s there", c.Name, c.OIDC.IssuerURL, st.RedirectURI)
		default:
			n.add("connection %s  %s  NOT READY %s: %s", c.Name, c.OIDC.IssuerURL, st.Reason, st.Message)
		}
	}
}

func issuerNode(root *node, t *v1alpha1.Tenant, replicas []replica) {
	is := t.Status.Issuer
	if is == nil {
		root.add("issuer: not rendered yet")
		return
	}
	desired := is.Replicas
	if t.Status.Effective != nil {
		desired = t.Status.Effective.Replicas
	}
	n := root.add("issuer  generation %d rendered, %d served by every live replica; replicas %d desired, %d live, %d on the newest",
		is.ConfigGeneration, is.ServedGeneration, desired, is.LiveReplicas, is.SyncedReplicas)
	for _, r := range replicas {
		switch {
		case r.holder == "" || !r.live:
			n.add("%s  free", r.slot)
		case r.configError != "":
			n.add("%s  %s  serves generation %d; cannot load the newest: %s", r.slot, r.holder, r.generation, r.configError)
		case r.generation == is.ConfigGeneration:
			n.add("%s  %s  serves generation %d (newest)", r.slot, r.holder, r.generation)
		default:
			n.add("%s  %s  serves generation %d (behind %d)", r.slot, r.holder, r.generation, is.ConfigGeneration)
		}
	}
}

func liveNode(root *node, lc *liveCheck) {
	n := root.add("live check (from this machine)")
	if lc.discoveryErr != nil {
		n.add("discovery  %s  FAILED: %v", lc.discoveryURL, lc.discoveryErr)
	} else {
		n.add("discovery  %s  OK", lc.discoveryURL)
	}
	switch {
	case lc.jwksURL == "":
	case lc.jwksErr != nil:
		n.add("JWKS       %s  FAILED: %v", lc.jwksURL, lc.jwksErr)
	default:
		kids := make([]string, 0, len(lc.keys))
		for _, k := range lc.keys {
			kids = append(kids, fmt.Sprintf("%s (%s)", k.Kid, k.Alg))
		}
		n.add("JWKS       %s  OK, %d keys: %s", lc.jwksURL, len(lc.keys), strings.Join(kids, ", "))
	}
}

// lifetime prints an effective lifetime with what decided it: "47m ←
// Tenant shop/acme/spec.session.absoluteTimeout (configured 3h)".
func lifetime(l v1alpha1.EffectiveLifetime) string {
	s := fmt.Sprintf("%-6s ← %s", l.Duration, l.BoundBy)
	if l.Configured != nil {
		s += fmt.Sprintf(" (configured %s)", l.Configured.Duration)
	}
	return s
}

// readySummary is "Ready", or the Ready condition's reason and message,
// noting when status is older than the spec.
func readySummary(conds []metav1.Condition, generation, observed int64) string {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	stale := ""
	if observed != generation {
		stale = fmt.Sprintf(" (status of generation %d; spec is at %d)", observed, generation)
	}
	switch {
	case c == nil:
		return "not reconciled yet" + stale
	case c.Status == "True":
		return "Ready" + stale
	default:
		return fmt.Sprintf("NOT READY %s: %s%s", c.Reason, c.Message, stale)
	}
}

func conditionMessage(conds []metav1.Condition, typ string) string {
	if c := meta.FindStatusCondition(conds, typ); c != nil {
		return c.Reason + ": " + c.Message
	}
	return "not reconciled yet"
}

func tenantRef(app *v1alpha1.Application) string {
	return refKey(app.Spec.TenantRef, app.Namespace)
}

// refKey is namespace/name of the Tenant ref names from an object in
// namespace.
func refKey(ref v1alpha1.TenantReference, namespace string) string {
	if ref.Namespace != "" {
		namespace = ref.Namespace
	}
	return namespace + "/" + ref.Name
}
