package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// tenantView is what `explain tenant` shows: a Tenant and every
// Application and API attached to it.
type tenantView struct {
	tenant   *v1alpha1.Tenant
	replicas []replica
	apps     []v1alpha1.Application
	apis     []v1alpha1.API
	// scope says where Applications and APIs were looked for when the
	// cluster-wide list was refused (RBAC): only the Tenant's namespace.
	scope string
	live  *liveCheck
}

// gatherTenant reads a Tenant, its Lease slots and the Applications and
// APIs that attach to it, in every namespace the caller may list.
func gatherTenant(ctx context.Context, c client.Reader, namespace, name string, now time.Time) (*tenantView, error) {
	v := &tenantView{tenant: &v1alpha1.Tenant{}}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, v.tenant); err != nil {
		return nil, fmt.Errorf("reading Tenant %s/%s: %w", namespace, name, err)
	}
	v.replicas = readReplicas(ctx, c, v.tenant, now)
	var apps v1alpha1.ApplicationList
	var apis v1alpha1.APIList
	if err := listEverywhere(ctx, c, namespace, &apps, &apis); err != nil {
		v.scope = fmt.Sprintf("only namespace %s was searched for Applications and APIs: %v", namespace, err)
	}
	for _, a := range apps.Items {
		if refersTo(a.Spec.TenantRef, a.Namespace, v.tenant) {
			v.apps = append(v.apps, a)
		}
	}
	for _, a := range apis.Items {
		if refersTo(a.Spec.TenantRef, a.Namespace, v.tenant) {
			v.apis = append(v.apis, a)
		}
	}
	sort.Slice(v.apps, func(i, j int) bool { return key(&v.apps[i]) < key(&v.apps[j]) })
	sort.Slice(v.apis, func(i, j int) bool { return key(&v.apis[i]) < key(&v.apis[j]) })
	return v, nil
}

// listEverywhere lists into each list across the cluster, or, when that
// is refused, in namespace only (returning why).
func listEverywhere(ctx context.Context, c client.Reader, namespace string, lists ...client.ObjectList) error {
	var refused error
	for _, l := range lists {
		if err := c.List(ctx, l); err != nil {
			refused = err
			break
		}
	}
	if refused == nil {
		return nil
	}
	for _, l := range lists {
		if err := c.List(ctx, l, client.InNamespace(namespace)); err != nil {
			return err
		}
	}
	return refused
}

func refersTo(ref v1alpha1.TenantReference, from string, t *v1alpha1.Tenant) bool {
	ns := ref.Namespace
	if ns == "" {
		ns = from
	}
	return ns == t.Namespace && ref.Name == t.Name
}

func key(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }

// writeTenant writes the Tenant's tree: its own settings, then one line
// per Application and API with their effective lifetimes.
func writeTenant(w io.Writer, v *tenantView) {
	root := tenantNode(v.tenant, v.replicas)
	if lc := v.live; lc != nil {
		liveNode(root, lc)
	}
	apps := root.add("Applications  %d", len(v.apps))
	for i := range v.apps {
		a := &v.apps[i]
		n := apps.add("%s (%s)  %s", key(a), a.Spec.Type, readySummary(a.Status.Conditions, a.Generation, a.Status.ObservedGeneration))
		e := a.Status.Effective
		if e == nil {
			continue
		}
		if e.IDToken != nil {
			n.add("ID token      %s", lifetime(*e.IDToken))
		}
		if s := e.Session; s != nil {
			n.add("session idle  %s", lifetime(s.InactivityTimeout))
			n.add("session max   %s", lifetime(s.AbsoluteTimeout))
		}
		for _, at := range e.AccessTokens {
			n.add("access %s %s  %s", at.API, at.Flow, lifetime(at.Lifetime))
		}
	}
	apis := root.add("APIs  %d", len(v.apis))
	for i := range v.apis {
		a := &v.apis[i]
		n := apis.add("%s  %s  %s", key(a), a.Spec.Audience, readySummary(a.Status.Conditions, a.Generation, a.Status.ObservedGeneration))
		if e := a.Status.Effective; e != nil {
			n.add("standard flows  %s", lifetime(e.TokenLifetime))
			n.add("browser flows   %s", lifetime(e.TokenLifetimeForBrowserFlows))
		}
	}
	if v.scope != "" {
		root.add("note: %s", v.scope)
	}
	root.write(w, "", true, true)
}

// tenantReport is `idtenant explain tenant -o json|yaml`.
type tenantReport struct {
	Tenant       explainTenant        `json:"tenant"`
	Replicas     []explainReplica     `json:"replicas,omitempty"`
	Applications []explainApplication `json:"applications"`
	APIs         []explainAPI         `json:"apis"`
	// Scope is set when only the Tenant's namespace could be searched.
	Scope string       `json:"scope,omitempty"`
	Live  *explainLive `json:"live,omitempty"`
}

type explainApplication struct {
	explainObject
	Type      v1alpha1.ApplicationType       `json:"type"`
	ClientID  string                         `json:"clientID,omitempty"`
	Effective *v1alpha1.ApplicationEffective `json:"effective,omitempty"`
}

func (v *tenantView) report() tenantReport {
	r := tenantReport{Tenant: tenantOf(v.tenant), Replicas: replicasOf(v.replicas), Scope: v.scope, Live: liveOf(v.live),
		Applications: []explainApplication{}, APIs: []explainAPI{}}
	for i := range v.apps {
		r.Applications = append(r.Applications, applicationOf(&v.apps[i]))
	}
	for i := range v.apis {
		r.APIs = append(r.APIs, apiOf(&v.apis[i]))
	}
	return r
}
