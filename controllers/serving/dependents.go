package serving

import (
	"context"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// renderedMessageDelay is how long an object rendered into a new
// configuration generation waits before its status says "generation N
// holds this; replicas serve M". Replicas usually serve it sooner, and then
// the object goes straight to Ready in one status write instead of two.
const renderedMessageDelay = 2 * time.Second

// TenantDependents enqueues the Applications or APIs (kind) of a Tenant
// whose status a change of that Tenant can change. A change of the spec,
// or issuer replicas appearing or all going, concerns every one of them.
// A new served generation concerns only the objects first rendered in a
// generation it newly covers: the others were served before and stay so.
// At 5,000 Applications this is the difference between one status write
// per Application per generation and one per Application.
type TenantDependents struct {
	Client   client.Client
	Rendered *RenderedCache
	Kind     string // "Application" or "API"
	// All lists every dependent of a Tenant.
	All func(ctx context.Context, tenant client.Object) []reconcile.Request
}

func (d *TenantDependents) Handler() handler.TypedEventHandler[client.Object, reconcile.Request] {
	addAll := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, r := range d.All(ctx, o) {
			q.Add(r)
		}
	}
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		CreateFunc: func(ctx context.Context, e event.TypedCreateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			addAll(ctx, e.Object, q)
		},
		DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			addAll(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.TypedGenericEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			addAll(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			old, ok := e.ObjectOld.(*v1alpha1.Tenant)
			cur, ok2 := e.ObjectNew.(*v1alpha1.Tenant)
			if !ok || !ok2 {
				return
			}
			if old.Generation != cur.Generation || liveReplicas(old) == 0 || liveReplicas(cur) == 0 {
				addAll(ctx, cur, q)
				return
			}
			d.servingChanged(ctx, old.Status.Issuer, cur, q)
		},
	}
}

func liveReplicas(t *v1alpha1.Tenant) int32 {
	if t.Status.Issuer == nil {
		return 0
	}
	return t.Status.Issuer.LiveReplicas
}

// servingChanged enqueues the dependents whose first rendered generation
// lies between the old and the new served generation (either way: a
// replica back on an older configuration sends them back to pending), now;
// and those first rendered in a new configuration generation, after
// renderedMessageDelay.
func (d *TenantDependents) servingChanged(ctx context.Context, old *v1alpha1.IssuerStatus, tenant *v1alpha1.Tenant, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	cur := tenant.Status.Issuer
	if old.ServedGeneration == cur.ServedGeneration && old.ConfigGeneration == cur.ConfigGeneration {
		return
	}
	idx, err := d.Rendered.Get(ctx, d.Client, tenant)
	if err != nil || idx == nil || idx.generation < cur.ServedGeneration {
		// Without the index (or with one older than what is served: the
		// cache has not seen the newest configuration yet), every
		// dependent looks for itself.
		for _, r := range d.All(ctx, tenant) {
			q.Add(r)
		}
		return
	}
	lo, hi := min(old.ServedGeneration, cur.ServedGeneration), max(old.ServedGeneration, cur.ServedGeneration)
	newlyRendered := cur.ConfigGeneration != old.ConfigGeneration
	prefix := d.Kind + " "
	for key, o := range idx.Objects {
		ref, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		ns, name, _ := strings.Cut(ref, "/")
		req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}
		switch {
		case o.Since > lo && o.Since <= hi:
			q.Add(req)
		case newlyRendered && o.Since == cur.ConfigGeneration:
			q.AddAfter(req, renderedMessageDelay)
		}
	}
}

// EnqueueAfter is handler.EnqueueRequestsFromMapFunc with a delay: what a
// burst of events maps to is reconciled once, delay after the first of
// them. For status that can lag a moment without misleading (an API's
// list of the Applications that call it), where reconciling on every one
// of 5,000 new Applications would rewrite that list thousands of times.
func EnqueueAfter(mapFn handler.MapFunc, delay time.Duration) handler.TypedEventHandler[client.Object, reconcile.Request] {
	add := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		for _, o := range objs {
			for _, r := range mapFn(ctx, o) {
				q.AddAfter(r, delay)
			}
		}
	}
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		CreateFunc: func(ctx context.Context, e event.TypedCreateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
		GenericFunc: func(ctx context.Context, e event.TypedGenericEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, q, e.Object)
		},
	}
}

// TenantSpecOrServingChanged passes Tenant events that can change a
// dependent's status: its spec, or what the issuer replicas serve.
var TenantSpecOrServingChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.Tenant), e.ObjectNew.(*v1alpha1.Tenant)
		if o.Generation != n.Generation {
			return true
		}
		serving := func(t *v1alpha1.Tenant) [4]int64 {
			if t.Status.Issuer == nil {
				return [4]int64{}
			}
			i := t.Status.Issuer
			return [4]int64{i.ConfigGeneration, i.ServedGeneration, int64(i.LiveReplicas), int64(i.SyncedReplicas)}
		}
		return serving(o) != serving(n)
	},
}
