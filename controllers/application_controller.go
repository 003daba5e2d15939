package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/audience"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// credentialsRecheck is how often an Application blocked by a foreign Secret
// in its credentials' place looks again.
const credentialsRecheck = 10 * time.Second

// ApplicationReconciler resolves an Application's Tenant and APIs, computes
// its effective lifetimes, keeps its client credentials Secret and writes
// status.
type ApplicationReconciler struct {
	client.Client
	rendered *renderedCache
	// hold delays the first "issuer pending" status of a new generation.
	hold pendingHold
	// APIReader reads Secrets the manager's cache does not hold: the cache
	// keeps only Secrets labelled as managed by idtenant.
	APIReader client.Reader
	Recorder  events.EventRecorder
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
func (r *ApplicationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	app := &v1alpha1.Application{}
	if err := r.Get(ctx, req.NamespacedName, app); err != nil {
		if apierrors.IsNotFound(err) {
			r.hold.forget(req.NamespacedName)
			objectMetrics.forget("Application", req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !app.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the credentials Secret goes with its owner
	}

	obs := applicationObservation{now: time.Now()}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, patchTransient(ctx, r.Client, r.Recorder, app, retErr))
			return
		}
		var held time.Duration
		held, retErr = r.writeStatus(ctx, app, obs)
		if held > 0 {
			result.RequeueAfter = held
			return
		}
		if retErr == nil {
			retErr = terminalIfStalled(app.Status.Conditions)
		}
		if retErr == nil && obs.credentialsProblem != nil {
			result.RequeueAfter = credentialsRecheck
		}
	}()

	return ctrl.Result{}, runSteps(ctx, app, &obs,
		r.resolveTenant,
		r.resolveAPIs,
		r.computeLifetimes,
		r.reconcileCredentials,
		r.checkServed,
	)
}

// resolveTenant owns TenantResolved.
func (r *ApplicationReconciler) resolveTenant(ctx context.Context, app *v1alpha1.Application, obs *applicationObservation) error {
	tenant, p, err := resolveTenant(ctx, r.Client, "Application", app, app.Spec.TenantRef)
	obs.tenant, obs.tenantProblem = tenant, p
	return err
}

// resolveAPIs owns APIsResolved: every listed API exists, attaches to the
// same Tenant, is not itself refused, defines the requested scopes, and its
// owner consents to this Application's namespace. APIs without consent are
// left out (the issuer serves the Application without them); any other
// problem keeps the whole Application out.
func (r *ApplicationReconciler) resolveAPIs(ctx context.Context, app *v1alpha1.Application, obs *applicationObservation) error {
	if obs.tenant == nil {
		return nil
	}
	res, err := fetchAPIs(ctx, &apiLookup{reader: r.Client}, app, obs.tenant, lifetime.ForTenant(obs.tenant))
	obs.apis, obs.servedAPIs, obs.apiProblem = res.apis, res.kept, res.problem
	return err
}

// computeLifetimes owns LifetimesClamped and the effective matrix: of the
// APIs served, when some are left out for lack of consent.
func (r *ApplicationReconciler) computeLifetimes(_ context.Context, app *v1alpha1.Application, obs *applicationObservation) error {
	if obs.tenant == nil || blocksApplication(obs.apiProblem) {
		return nil
	}
	eff := lifetime.ForApplication(lifetime.ForTenant(obs.tenant), withAPIs(app, obs.servedAPIs), obs.apis)
	obs.effective = &eff
	return nil
}

// blocksApplication says whether p keeps the whole Application out of the
// issuer (not just some of its APIs).
func blocksApplication(p *problem) bool { return p != nil && !p.servedWithout }

// withAPIs returns app with spec.apis replaced by kept, the entries the
// issuer serves; app itself when nothing was left out.
func withAPIs(app *v1alpha1.Application, kept []v1alpha1.APIAccess) *v1alpha1.Application {
	if len(kept) == len(app.Spec.APIs) {
		return app
	}
	out := app.DeepCopy()
	out.Spec.APIs = kept
	return out
}

// resolvedAPIs is what fetchAPIs found for an Application's spec.apis.
type resolvedAPIs struct {
	// apis are the effective configurations of the entries served and kept
	// those entries, in spec order.
	apis []lifetime.API
	kept []v1alpha1.APIAccess
	// problem is the first entry that keeps the whole Application out, or
	// (servedWithout) the entries left out because their API's owner does
	// not consent.
	problem *problem
}

// fetchAPIs gets the APIs of app.Spec.APIs in order, checks each, and
// returns their effective configuration under t (the tenant's).
func fetchAPIs(ctx context.Context, lookup *apiLookup, app *v1alpha1.Application, tenant *v1alpha1.Tenant, t lifetime.Tenant) (resolvedAPIs, error) {
	tenantRef := client.ObjectKeyFromObject(tenant)
	res := resolvedAPIs{apis: make([]lifetime.API, 0, len(app.Spec.APIs)), kept: make([]v1alpha1.APIAccess, 0, len(app.Spec.APIs))}
	fail := func(p *problem) (resolvedAPIs, error) { return resolvedAPIs{problem: p}, nil }
	var denied []string
	seen := make(map[string]int, len(app.Spec.APIs))
	for i, ref := range app.Spec.APIs {
		key := apiKey(ref, app.Namespace)
		// Admission cannot check this cheaply (CEL cost grows with the square
		// of the list), so the controller does.
		if j, dup := seen[key]; dup {
			return fail(&problem{reason: v1alpha1.ReasonInvalidSpec, stalls: true,
				message: fmt.Sprintf("spec.apis[%d] and spec.apis[%d] both list API %s; list each API once", j, i, key)})
		}
		seen[key] = i
		ns, name, _ := strings.Cut(key, "/")
		api, err := lookup.get(ctx, types.NamespacedName{Namespace: ns, Name: name})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return fail(&problem{reason: v1alpha1.ReasonAPINotFound,
					message: fmt.Sprintf("API %s listed in spec.apis[%d] does not exist", key, i)})
			}
			return resolvedAPIs{}, fmt.Errorf("getting API %s: %w", key, err)
		}
		if got := tenantKey(api.Spec.TenantRef, api.Namespace); got != tenantRef {
			return fail(&problem{reason: v1alpha1.ReasonAPIInOtherTenant, stalls: true,
				message: fmt.Sprintf("API %s listed in spec.apis[%d] attaches to Tenant %s, not to this Application's Tenant %s", key, i, got, tenantRef)})
		}
		if p, err := checkAdmission(ctx, lookup.reader, tenant, "API", api); err != nil {
			return resolvedAPIs{}, err
		} else if p != nil {
			return fail(&problem{reason: v1alpha1.ReasonNamespaceNotAllowed, stalls: true,
				message: fmt.Sprintf("API %s listed in spec.apis[%d] is in namespace %q, which Tenant %s does not admit", key, i, api.Namespace, tenantRef)})
		}
		// The API owner's consent: without it this entry is left out, the
		// rest of the Application is still served.
		if p, err := checkConsent(ctx, lookup.reader, api, app.Namespace); err != nil {
			return resolvedAPIs{}, err
		} else if p != nil {
			if !p.servedWithout {
				return fail(p)
			}
			denied = append(denied, fmt.Sprintf("spec.apis[%d]: %s", i, p.message))
			continue
		}
		if v, err := lookup.audience(ctx, tenant, api); err != nil {
			return resolvedAPIs{}, err
		} else if v.Outcome != audience.Held {
			return fail(&problem{reason: v1alpha1.ReasonAudienceConflict,
				message: fmt.Sprintf("API %s listed in spec.apis[%d] is not served: %s", key, i, notServedBecause(api, v))})
		}
		eff := lifetime.ForAPI(t, api)
		if eff.Enforcement.Rejected() {
			return fail(&problem{reason: v1alpha1.ReasonPolicyViolation,
				message: fmt.Sprintf("API %s listed in spec.apis[%d] is refused by Tenant policy: %s", key, i, eff.Enforcement.Violations[0].Message())})
		}
		for _, s := range ref.Scopes {
			if !slices.ContainsFunc(api.Spec.Scopes, func(d v1alpha1.APIScope) bool { return d.Name == s }) {
				return fail(&problem{reason: v1alpha1.ReasonScopeNotDefined, stalls: true,
					message: fmt.Sprintf("scope %q in spec.apis[%d].scopes is not defined in spec.scopes of API %s", s, i, key)})
			}
		}
		res.apis = append(res.apis, eff)
		res.kept = append(res.kept, ref)
	}
	if len(denied) > 0 {
		res.problem = &problem{reason: v1alpha1.ReasonAPINotShared, stalls: true, servedWithout: true,
			message: strings.Join(denied, "; ") + ". The issuer serves this Application without those APIs: its token requests for them fail with invalid_target."}
	}
	return res, nil
}

// checkServed is Ready's last gate: the issuer replicas serve a
// configuration holding this generation of the Application.
func (r *ApplicationReconciler) checkServed(ctx context.Context, app *v1alpha1.Application, obs *applicationObservation) error {
	if obs.tenant == nil || blocksApplication(obs.apiProblem) || obs.credentialsProblem != nil || obs.effective == nil || obs.effective.Enforcement.Rejected() {
		return nil
	}
	p, err := servedProblem(ctx, r.rendered, r.Client, obs.tenant, "Application", app, effectiveDigest(obs.effective.Status()))
	obs.servedProblem = p
	return err
}

// writeStatus patches the status derived from obs and records an Event when
// Ready changes, or says how long to hold it back (pendingHold).
func (r *ApplicationReconciler) writeStatus(ctx context.Context, app *v1alpha1.Application, obs applicationObservation) (time.Duration, error) {
	st := applicationStatus(app, obs)
	if wait := r.hold.wait(client.ObjectKeyFromObject(app), app.Generation, app.Status.ObservedGeneration, app.Status.Conditions, st.Conditions, obs.now); wait > 0 {
		return wait, nil
	}
	before := app.DeepCopy()
	app.Status = st
	if err := patchStatus(ctx, r.Client, r.Recorder, app, before); err != nil {
		return 0, err
	}
	objectMetrics.application(app, clampCount(obs.effective))
	return 0, nil
}

// SetupWithManager watches Applications and everything their status depends
// on: their Tenant, the APIs they list, the Namespaces a Tenant selects by
// label, and the credentials Secrets they own.
func (r *ApplicationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Application{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.Secret{}).
		// Status depends on the Tenant's spec only; its status changes
		// (counts on every attach) must not re-reconcile every dependent.
		Watches(&v1alpha1.Tenant{}, (&tenantDependents{client: r.Client, rendered: r.rendered, kind: "Application", all: r.forTenant}).handler(),
			builder.WithPredicates(tenantSpecOrServingChanged)).
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
	return listRequests(ctx, r.Client, &v1alpha1.ApplicationList{}, client.MatchingFields{indexTenant: client.ObjectKeyFromObject(o).String()})
}

func (r *ApplicationReconciler) forAPI(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r.Client, &v1alpha1.ApplicationList{}, client.MatchingFields{indexAPIs: client.ObjectKeyFromObject(o).String()})
}

func (r *ApplicationReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r.Client, &v1alpha1.ApplicationList{}, client.InNamespace(o.GetName()))
}
