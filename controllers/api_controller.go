package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// APIReconciler resolves an API's Tenant, computes its effective access
// token lifetimes and lists the Applications allowed to call it.
type APIReconciler struct {
	client.Client
	rendered *renderedCache
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=idtenant.dev,resources=apis,verbs=get;list;watch
// +kubebuilder:rbac:groups=idtenant.dev,resources=apis/status,verbs=get;update;patch

// Reconcile has the same shape as ApplicationReconciler.Reconcile.
func (r *APIReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	api := &v1alpha1.API{}
	if err := r.Get(ctx, req.NamespacedName, api); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !api.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	obs := apiObservation{now: time.Now()}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, patchTransient(ctx, r.Client, r.Recorder, api, retErr))
			return
		}
		retErr = r.writeStatus(ctx, api, obs)
		if retErr == nil {
			retErr = terminalIfStalled(api.Status.Conditions)
		}
	}()
	return ctrl.Result{}, runSteps(ctx, api, &obs,
		r.resolveTenant,
		r.checkAudience,
		r.computeLifetimes,
		r.listApplications,
		r.checkServed,
	)
}

// resolveTenant owns TenantResolved.
func (r *APIReconciler) resolveTenant(ctx context.Context, api *v1alpha1.API, obs *apiObservation) error {
	tenant, p, err := resolveTenant(ctx, r.Client, "API", api, api.Spec.TenantRef)
	obs.tenant, obs.tenantProblem = tenant, p
	return err
}

// checkAudience refuses an audience an older API of the same Tenant already
// uses: two APIs with one audience would make every token ambiguous.
func (r *APIReconciler) checkAudience(ctx context.Context, api *v1alpha1.API, obs *apiObservation) error {
	if obs.tenant == nil {
		return nil
	}
	owner, err := audienceOwner(ctx, r.Client, obs.tenant, api)
	if err != nil || owner == "" {
		return err
	}
	obs.audienceProblem = &problem{reason: v1alpha1.ReasonAudienceConflict, stalls: true,
		message: fmt.Sprintf("spec.audience %q is already used by API %s in the same Tenant; audiences must be unique per Tenant", api.Spec.Audience, owner)}
	return nil
}

// audienceOwner returns "<namespace>/<name>" of the older API of tenant
// that claims api's audience, or "" when api owns it. Every reconciler asks
// this one function, so they agree on the winner.
func audienceOwner(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant, api *v1alpha1.API) (string, error) {
	var list v1alpha1.APIList
	if err := c.List(ctx, &list, client.MatchingFields{indexTenant: client.ObjectKeyFromObject(tenant).String()}); err != nil {
		return "", fmt.Errorf("listing APIs of Tenant %s: %w", client.ObjectKeyFromObject(tenant), err)
	}
	return audienceOwnerIn(api, ptrs(list.Items)), nil
}

// audienceOwnerIn is audienceOwner's rule over APIs already listed.
func audienceOwnerIn(api *v1alpha1.API, all []*v1alpha1.API) string {
	for _, other := range all {
		if other.UID != api.UID && other.Spec.Audience == api.Spec.Audience && older(other, api) {
			return other.Namespace + "/" + other.Name
		}
	}
	return ""
}

// older orders APIs by creation, then by key, so exactly one of two
// conflicting APIs wins.
func older(a, b *v1alpha1.API) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return client.ObjectKeyFromObject(a).String() < client.ObjectKeyFromObject(b).String()
}

// computeLifetimes owns LifetimesClamped and the effective lifetimes.
func (r *APIReconciler) computeLifetimes(_ context.Context, api *v1alpha1.API, obs *apiObservation) error {
	if obs.tenant == nil || obs.audienceProblem != nil {
		return nil
	}
	eff := lifetime.ForAPI(lifetime.ForTenant(obs.tenant), api)
	obs.effective = &eff
	return nil
}

// listApplications fills status.applications with the Applications of the
// same Tenant that list this API.
func (r *APIReconciler) listApplications(ctx context.Context, api *v1alpha1.API, obs *apiObservation) error {
	if obs.tenant == nil {
		return nil
	}
	var list v1alpha1.ApplicationList
	if err := r.List(ctx, &list, client.MatchingFields{indexAPIs: client.ObjectKeyFromObject(api).String()}); err != nil {
		return fmt.Errorf("listing Applications of API %s: %w", client.ObjectKeyFromObject(api), err)
	}
	tenant := client.ObjectKeyFromObject(obs.tenant)
	for _, app := range list.Items {
		if tenantKey(app.Spec.TenantRef, app.Namespace) == tenant {
			obs.applications = append(obs.applications, app.Namespace+"/"+app.Name)
		}
	}
	slices.Sort(obs.applications)
	return nil
}

// checkServed is Ready's last gate, as for Applications.
func (r *APIReconciler) checkServed(ctx context.Context, api *v1alpha1.API, obs *apiObservation) error {
	if obs.tenant == nil || obs.audienceProblem != nil || obs.effective == nil || obs.effective.Enforcement.Rejected() {
		return nil
	}
	st := obs.effective.Status()
	p, err := servedProblem(ctx, r.rendered, r.Client, obs.tenant, "API", api, effectiveDigest(&st))
	obs.servedProblem = p
	return err
}

func (r *APIReconciler) writeStatus(ctx context.Context, api *v1alpha1.API, obs apiObservation) error {
	before := api.DeepCopy()
	api.Status = apiStatus(api, obs)
	return patchStatus(ctx, r.Client, r.Recorder, api, before)
}

// SetupWithManager watches APIs, their Tenant, the Applications that list
// them, other APIs of the Tenant (audience conflicts) and Namespace labels.
func (r *APIReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.API{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Status depends on the Tenant's spec only; its status changes
		// (counts on every attach) must not re-reconcile every dependent.
		Watches(&v1alpha1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.forTenant),
			builder.WithPredicates(tenantSpecOrServingChanged)).
		Watches(&v1alpha1.API{}, handler.EnqueueRequestsFromMapFunc(r.siblings),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Application{}, handler.EnqueueRequestsFromMapFunc(r.forApplication),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Named("api").
		Complete(r)
}

func (r *APIReconciler) forTenant(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r.Client, &v1alpha1.APIList{}, client.MatchingFields{indexTenant: client.ObjectKeyFromObject(o).String()})
}

// siblings re-checks audience conflicts when another API of the Tenant
// changes or goes away.
func (r *APIReconciler) siblings(ctx context.Context, o client.Object) []reconcile.Request {
	api := o.(*v1alpha1.API)
	var list v1alpha1.APIList
	if err := r.List(ctx, &list, client.MatchingFields{indexTenant: tenantKey(api.Spec.TenantRef, api.Namespace).String()}); err != nil {
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
		ns, name, _ := strings.Cut(apiKey(ref, app.Namespace), "/")
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}})
	}
	return out
}

func (r *APIReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return listRequests(ctx, r.Client, &v1alpha1.APIList{}, client.InNamespace(o.GetName()))
}
