package application

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
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
)

// ApplicationReconciler resolves an Application's Tenant and APIs, computes
// its effective lifetimes, keeps its client credentials Secret and writes
// status.
type ApplicationReconciler struct {
	client.Client
	Rendered *serving.RenderedCache
	// hold delays the first "issuer pending" status of a new generation.
	hold status.PendingHold
	// APIReader reads Secrets the manager's cache does not hold: the cache
	// keeps only Secrets labelled as managed by idtenant.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// ClientSecretActivation overrides serving.ClientSecretActivation
	// (tests).
	ClientSecretActivation time.Duration
}

func (r *ApplicationReconciler) activation() time.Duration {
	if r.ClientSecretActivation > 0 {
		return r.ClientSecretActivation
	}
	return serving.ClientSecretActivation
}

// +kubebuilder:rbac:groups=idtenant.dev,resources=applications,verbs=get;list;watch
// +kubebuilder:rbac:groups=idtenant.dev,resources=applications/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=idtenant.dev,resources=tenants;apis,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile follows one shape: get, observe in ordered sub-steps, then write
// status computed in one place from what the steps observed.
func (r *ApplicationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return (&status.Pipeline[*v1alpha1.Application, ApplicationObservation]{
		Client: r.Client, Recorder: r.Recorder, Kind: "Application",
		New:    func() *v1alpha1.Application { return &v1alpha1.Application{} },
		Forget: r.hold.Forget,
		Start: func(context.Context, *v1alpha1.Application) (*ApplicationObservation, []status.Step[*v1alpha1.Application, ApplicationObservation]) {
			return &ApplicationObservation{now: time.Now()}, []status.Step[*v1alpha1.Application, ApplicationObservation]{
				r.resolveTenant,
				r.decide,
				r.reconcileCredentials,
				r.checkServed,
			}
		},
		Status: r.finish,
	}).Reconcile(ctx, req)
}

// finish writes status; a pending status is held (and looked at again)
// before it is written, a stalled Application is a terminal error, and one
// blocked by a foreign Secret in its credentials' place looks again later.
func (r *ApplicationReconciler) finish(ctx context.Context, app *v1alpha1.Application, obs *ApplicationObservation) (ctrl.Result, error) {
	held, err := r.writeStatus(ctx, app, *obs)
	result, err := status.FinishHeld(held, err, app.Status.Conditions)
	if held == 0 && err == nil && obs.credentialsProblem != nil {
		result.RequeueAfter = serving.CredentialsRecheck
	}
	for _, at := range []time.Time{obs.previousSecretValidUntil, obs.nextSecretDue} {
		// Back when the replaced secret's overlap ends (to remove it) or
		// the new one is due (to hand it out).
		if held != 0 || err != nil || at.IsZero() {
			continue
		}
		if wait := max(time.Until(at), 0) + time.Second; result.RequeueAfter == 0 || wait < result.RequeueAfter {
			result.RequeueAfter = wait
		}
	}
	return result, err
}

// ResolveTenant owns TenantResolved.
func (r *ApplicationReconciler) resolveTenant(ctx context.Context, app *v1alpha1.Application, obs *ApplicationObservation) error {
	tenant, p, err := serving.ResolveTenant(ctx, r.Client, "Application", app, app.Spec.TenantRef)
	obs.tenant, obs.tenantProblem = tenant, p
	return err
}

// decide owns APIsResolved, LifetimesClamped and the effective matrix:
// this Application's verdict in the Tenant's served decision
// (serving.Decide, the rules the Tenant renders by). Every listed API must
// exist, attach to the same Tenant, be admitted, hold its audience, not be
// refused by policy and define the requested scopes; APIs whose owner does
// not consent to this namespace are left out (the issuer serves the
// Application without them, and the matrix shows the APIs served); any
// other problem keeps the whole Application out.
func (r *ApplicationReconciler) decide(ctx context.Context, app *v1alpha1.Application, obs *ApplicationObservation) error {
	if obs.tenant == nil {
		return nil
	}
	in, err := serving.GatherForApplication(ctx, r.Client, obs.tenant, app)
	if err != nil {
		return err
	}
	v := serving.Decide(in, obs.now).Applications[client.ObjectKeyFromObject(app)]
	obs.apis, obs.servedAPIs, obs.apiProblem, obs.effective = v.APIs, v.Kept, v.Problem, v.Effective
	return nil
}

// checkServed is Ready's last gate: the issuer replicas serve a
// configuration holding this generation of the Application.
func (r *ApplicationReconciler) checkServed(ctx context.Context, app *v1alpha1.Application, obs *ApplicationObservation) error {
	if obs.tenant == nil || serving.BlocksApplication(obs.apiProblem) || obs.credentialsProblem != nil || obs.effective == nil || obs.effective.Enforcement.Rejected() {
		return nil
	}
	p, err := serving.ServedProblem(ctx, r.Rendered, r.Client, obs.tenant, "Application", app, status.EffectiveDigest(obs.effective.Status()))
	obs.servedProblem = p
	return err
}

// writeStatus patches the status derived from obs and records an Event when
// Ready changes, or says how long to hold it back (PendingHold).
func (r *ApplicationReconciler) writeStatus(ctx context.Context, app *v1alpha1.Application, obs ApplicationObservation) (time.Duration, error) {
	st := ApplicationStatus(app, obs)
	if wait := r.hold.Wait(client.ObjectKeyFromObject(app), app.Generation, app.Status.ObservedGeneration, app.Status.Conditions, st.Conditions, obs.now); wait > 0 {
		return wait, nil
	}
	before := app.DeepCopy()
	app.Status = st
	if err := status.PatchStatus(ctx, r.Client, r.Recorder, app, before); err != nil {
		return 0, err
	}
	status.ObjectMetrics.Application(app, status.ClampCount(obs.effective))
	return 0, nil
}

// SetupWithManager watches Applications and everything their status depends
// on: their Tenant, the APIs they list, the Namespaces a Tenant selects by
// label, and the credentials Secrets they own.
func (r *ApplicationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		// Spec changes, and a new value of the rotation annotation.
		For(&v1alpha1.Application{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, rotationRequested))).
		Owns(&corev1.Secret{}).
		// Status depends on the Tenant's spec only; its status changes
		// (counts on every attach) must not re-reconcile every dependent.
		Watches(&v1alpha1.Tenant{}, (&serving.TenantDependents{Client: r.Client, Rendered: r.Rendered, Kind: "Application", All: r.forTenant}).Handler(),
			builder.WithPredicates(serving.TenantSpecOrServingChanged)).
		// Only an API's spec (and its going) changes what an Application
		// reports; the API's own status writes do not.
		Watches(&v1alpha1.API{}, handler.EnqueueRequestsFromMapFunc(r.forAPI),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Named("application").
		Complete(r)
}

func (r *ApplicationReconciler) forTenant(ctx context.Context, o client.Object) []reconcile.Request {
	return serving.ListRequests(ctx, r.Client, &v1alpha1.ApplicationList{}, client.MatchingFields{serving.IndexTenant: client.ObjectKeyFromObject(o).String()})
}

func (r *ApplicationReconciler) forAPI(ctx context.Context, o client.Object) []reconcile.Request {
	return serving.ListRequests(ctx, r.Client, &v1alpha1.ApplicationList{}, client.MatchingFields{serving.IndexAPIs: client.ObjectKeyFromObject(o).String()})
}

func (r *ApplicationReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return serving.ListRequests(ctx, r.Client, &v1alpha1.ApplicationList{}, client.InNamespace(o.GetName()))
}

// rotationRequested passes updates that change the Application's
// AnnotationRotateClientSecret.
var rotationRequested = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return e.ObjectOld.GetAnnotations()[v1alpha1.AnnotationRotateClientSecret] != e.ObjectNew.GetAnnotations()[v1alpha1.AnnotationRotateClientSecret]
}}
