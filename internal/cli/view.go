// Package cli is idtenant's command line for auditors, the kubectl plugin
// kubectl-idtenant: `kubectl idtenant explain` and `timeline`. It
// reads status, the Tenant's Lease slots and the issuer's discovery
// document; it writes nothing.
package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// view is everything explain and timeline show about one Application.
type view struct {
	app       *v1alpha1.Application
	tenant    *v1alpha1.Tenant // nil when it cannot be read, and why
	tenantErr error
	apis      []*v1alpha1.API // those in spec.apis that could be read, in order
	missing   []string        // spec.apis entries that could not be read, and why
	replicas  []replica
	live      *liveCheck // nil when not asked for
}

// replica is one issuer replica as its Lease slot reports it.
type replica struct {
	slot, holder string
	generation   int64
	configError  string
	live         bool
}

// gather reads an Application, its Tenant, its APIs and the Tenant's Lease
// slots.
func gather(ctx context.Context, c client.Reader, namespace, name string, now time.Time) (*view, error) {
	v := &view{app: &v1alpha1.Application{}}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, v.app); err != nil {
		return nil, fmt.Errorf("reading Application %s/%s: %w", namespace, name, err)
	}
	if v.tenant, v.tenantErr = readTenant(ctx, c, v.app.Spec.TenantRef, namespace); v.tenant != nil {
		v.replicas = readReplicas(ctx, c, v.tenant, now)
	}
	for _, ref := range v.app.Spec.APIs {
		ns := ref.Namespace
		if ns == "" {
			ns = namespace
		}
		api := &v1alpha1.API{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, api); err != nil {
			v.missing = append(v.missing, fmt.Sprintf("%s/%s: %v", ns, ref.Name, err))
			continue
		}
		v.apis = append(v.apis, api)
	}
	return v, nil
}

// readTenant reads the Tenant ref names, from an object in namespace.
func readTenant(ctx context.Context, c client.Reader, ref v1alpha1.TenantReference, namespace string) (*v1alpha1.Tenant, error) {
	if ref.Namespace != "" {
		namespace = ref.Namespace
	}
	t := &v1alpha1.Tenant{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, t); err != nil {
		return nil, err
	}
	return t, nil
}

// readReplicas lists the Tenant's Lease slots; one that cannot be listed
// (RBAC) shows no replicas rather than failing the whole explanation.
func readReplicas(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant, now time.Time) []replica {
	var leases coordinationv1.LeaseList
	if err := c.List(ctx, &leases, client.InNamespace(tenant.Namespace), client.MatchingLabels{"idtenant.dev/tenant": tenant.Name}); err != nil {
		return nil
	}
	var out []replica
	for i := range leases.Items {
		l := &leases.Items[i]
		if _, ok := issuerconfig.LeaseSlot(tenant.Name, l.Name); !ok {
			continue
		}
		r := replica{slot: l.Name, live: issuerconfig.Live(l, now), configError: l.Annotations[issuerconfig.AnnotationConfigError]}
		if l.Spec.HolderIdentity != nil {
			r.holder = *l.Spec.HolderIdentity
		}
		r.generation, _ = strconv.ParseInt(l.Annotations[issuerconfig.AnnotationServedGeneration], 10, 64)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].slot < out[j].slot })
	return out
}
