package api

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/audience"
)

// applicationListDelay is how long an API waits after an Application that
// lists it changed before it updates status.applications.
const applicationListDelay = 3 * time.Second

// APIReconciler resolves an API's Tenant, computes its effective access
// token lifetimes and lists the Applications allowed to call it.
type APIReconciler struct {
	client.Client
	Rendered *serving.RenderedCache
	// hold delays the first "issuer pending" status of a new generation.
	hold     status.PendingHold
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=idtenant.dev,resources=apis,verbs=get;list;watch
// +kubebuilder:rbac:groups=idtenant.dev,resources=apis/status,verbs=get;update;patch

// Reconcile runs the API's steps in status.Pipeline's shape.
func (r *APIReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return (&status.Pipeline[*v1alpha1.API, APIObservation]{
		Client: r.Client, Recorder: r.Recorder, Kind: "API",
		New:    func() *v1alpha1.API { return &v1alpha1.API{} },
		Forget: r.hold.Forget,
		Start: func(context.Context, *v1alpha1.API) (*APIObservation, []status.Step[*v1alpha1.API, APIObservation]) {
			return &APIObservation{now: time.Now()}, []status.Step[*v1alpha1.API, APIObservation]{
				r.resolveTenant,
				r.decide,
				r.checkServed,
			}
		},
		Status: r.finish,
	}).Reconcile(ctx, req)
}

// finish writes status; a pending status is held (and looked at again)
// before it is written, and a stalled API is a terminal error.
func (r *APIReconciler) finish(ctx context.Context, api *v1alpha1.API, obs *APIObservation) (ctrl.Result, error) {
	held, err := r.writeStatus(ctx, api, *obs)
	return status.FinishHeld(held, err, api.Status.Conditions)
}

// ResolveTenant owns TenantResolved.
func (r *APIReconciler) resolveTenant(ctx context.Context, api *v1alpha1.API, obs *APIObservation) error {
	tenant, p, err := serving.ResolveTenant(ctx, r.Client, "API", api, api.Spec.TenantRef)
	obs.tenant, obs.tenantProblem = tenant, p
	return err
}

// decide owns the audience verdict (AudienceConflict, AudienceNotAllowed),
// LifetimesClamped and the effective lifetimes, and status.applications:
// this API's verdict in the Tenant's served decision (serving.Decide, the
// rules the Tenant renders by), and which of the Tenant's Applications that
// list it have its owner's consent.
func (r *APIReconciler) decide(ctx context.Context, api *v1alpha1.API, obs *APIObservation) error {
	if obs.tenant == nil {
		return nil
	}
	in, err := serving.GatherForAPI(ctx, r.Client, obs.tenant, api)
	if err != nil {
		return err
	}
	v := serving.Decide(in, obs.now).APIs[client.ObjectKeyFromObject(api)]
	if v == nil {
		// Not in the cache's list of the Tenant's APIs yet.
		obs.audienceProblem = serving.AudienceProblem(obs.tenant, api, audience.Verdict{})
		return nil
	}
	obs.audienceProblem, obs.effective = v.Problem, v.Effective
	obs.applications, obs.deniedApplications = v.Applications, v.DeniedApplications
	return nil
}

// checkServed is Ready's last gate, as for Applications.
func (r *APIReconciler) checkServed(ctx context.Context, api *v1alpha1.API, obs *APIObservation) error {
	if obs.tenant == nil || obs.audienceProblem != nil || obs.effective == nil || obs.effective.Enforcement.Rejected() {
		return nil
	}
	st := obs.effective.Status()
	p, err := serving.ServedProblem(ctx, r.Rendered, r.Client, obs.tenant, "API", api, status.EffectiveDigest(&st))
	obs.servedProblem = p
	return err
}

func (r *APIReconciler) writeStatus(ctx context.Context, api *v1alpha1.API, obs APIObservation) (time.Duration, error) {
	st := APIStatus(api, obs)
	if wait := r.hold.Wait(client.ObjectKeyFromObject(api), api.Generation, api.Status.ObservedGeneration, api.Status.Conditions, st.Conditions, obs.now); wait > 0 {
		return wait, nil
	}
	before := api.DeepCopy()
	api.Status = st
	if err := status.PatchStatus(ctx, r.Client, r.Recorder, api, before); err != nil {
		return 0, err
	}
	var clamps int
	if obs.effective != nil && !obs.effective.Enforcement.Rejected() {
		clamps = len(obs.effective.Enforcement.Clamps)
	}
	status.ObjectMetrics.API(api, clamps)
	return 0, nil
}

// SetupWithManager watches APIs, their Tenant, the Applications that list
// them, other APIs of the Tenant (audience conflicts) and Namespace labels.
func (r *APIReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.API{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Status depends on the Tenant's spec only; its status changes
		// (counts on every attach) must not re-reconcile every dependent.
		// A new served generation concerns the APIs it newly covers; new
		// audience claims concern them all.
		Watches(&v1alpha1.Tenant{}, (&serving.TenantDependents{Client: r.Client, Rendered: r.Rendered, Kind: "API", All: r.forTenant}).Handler(),
			builder.WithPredicates(serving.TenantSpecOrServingChanged)).
		Watches(&v1alpha1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.forTenant),
			builder.WithPredicates(audienceClaimsChanged)).
		Watches(&v1alpha1.API{}, handler.EnqueueRequestsFromMapFunc(r.siblings),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Applications change only status.applications, which may lag a
		// few seconds: a burst of them is one reconcile per API.
		Watches(&v1alpha1.Application{}, serving.EnqueueAfter(r.forApplication, applicationListDelay),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Named("api").
		Complete(r)
}

func (r *APIReconciler) forTenant(ctx context.Context, o client.Object) []reconcile.Request {
	return serving.ListRequests(ctx, r.Client, &v1alpha1.APIList{}, client.MatchingFields{serving.IndexTenant: client.ObjectKeyFromObject(o).String()})
}

// siblings re-checks audience conflicts when another API of the Tenant
// changes or goes away.
func (r *APIReconciler) siblings(ctx context.Context, o client.Object) []reconcile.Request {
	api := o.(*v1alpha1.API)
	var list v1alpha1.APIList
	if err := r.List(ctx, &list, client.MatchingFields{serving.IndexTenant: serving.TenantKey(api.Spec.TenantRef, api.Namespace).String()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing sibling APIs", "api", client.ObjectKeyFromObject(o))
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if list.Items[i].UID != api.UID && list.Items[i].Spec.Audience == api.Spec.Audience {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

func (r *APIReconciler) forApplication(_ context.Context, o client.Object) []reconcile.Request {
	app := o.(*v1alpha1.Application)
	out := make([]reconcile.Request, 0, len(app.Spec.APIs))
	for _, ref := range app.Spec.APIs {
		ns, name, _ := strings.Cut(serving.APIKey(ref, app.Namespace), "/")
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}})
	}
	return out
}

// forNamespace maps a Namespace whose labels changed to the APIs in it (the
// Tenant may admit it by label) and to the APIs its Applications list (an
// API may consent to it by label).
func (r *APIReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	out := serving.ListRequests(ctx, r.Client, &v1alpha1.APIList{}, client.InNamespace(o.GetName()))
	var apps v1alpha1.ApplicationList
	if err := r.List(ctx, &apps, client.InNamespace(o.GetName())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing Applications of a relabelled namespace", "namespace", o.GetName())
		return out
	}
	for i := range apps.Items {
		out = append(out, r.forApplication(ctx, &apps.Items[i])...)
	}
	return out
}

// audienceClaimsChanged passes Tenant updates that change the recorded
// audience claims: a claim forgotten or handed over may let an API hold its
// audience.
var audienceClaimsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.Tenant), e.ObjectNew.(*v1alpha1.Tenant)
		return !equality.Semantic.DeepEqual(o.Status.AudienceClaims, n.Status.AudienceClaims)
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}
