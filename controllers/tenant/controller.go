package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/keys"
	"github.com/idtenant/idtenant/internal/lifetime"
	"github.com/idtenant/idtenant/internal/statecollector"
	"github.com/idtenant/idtenant/internal/statedb"
)

// TenantReconciler reports a Tenant's effective session settings and how
// many Applications and APIs are attached.
type TenantReconciler struct {
	client.Client
	// APIReader reads objects the manager does not cache (the users Secret).
	APIReader client.Reader
	Recorder  events.EventRecorder
	// IssuerImage is the idtenant image the issuer Deployment runs.
	IssuerImage string
	// IssuerShutdownDelay is how long an issuer keeps serving after it is
	// told to stop (render.Workload.ShutdownDelay).
	IssuerShutdownDelay time.Duration
	// AllowedClusterIssuers, when not empty, are the cert-manager
	// cluster-scoped issuers a Tenant may request its certificate from
	// (--allowed-cluster-issuers): any ClusterIssuer signs for any host.
	AllowedClusterIssuers []string
	// AllowedIngressAnnotations, when not empty, are the annotation keys
	// (exact, or a prefix ending in "*") a Tenant's
	// spec.exposure.ingress.annotations may set
	// (--allowed-ingress-annotations): the ingress controller serves every
	// Ingress of the cluster.
	AllowedIngressAnnotations []string
	// IssuerMetricsFrom, when set, selects the namespaces that may reach
	// issuers' metrics port; every issuer then gets a NetworkPolicy
	// (render.Workload.NetworkPolicy). Nil: none is rendered.
	IssuerMetricsFrom *metav1.LabelSelector
	// IssuerPodDefaults are the issuer Pods' defaults; a Tenant's
	// spec.issuer replaces them field by field.
	IssuerPodDefaults v1alpha1.IssuerPodSpec
	// Now is the clock for key rotation and state expiry; time.Now when nil.
	Now func() time.Time
	// TenantNamespaces, when set, are the only namespaces whose Tenants
	// are served (Options.TenantNamespaces).
	TenantNamespaces []string

	Rendered *serving.RenderedCache
	// applied remembers what was applied last, to skip re-applying it.
	applied appliedObjects
	// passes remembers each Tenant's last full pass (coalesce.go).
	passes tenantPasses
	// State holds the state collector's latest numbers per Tenant, and
	// StateChanged says when a Tenant's changed (both from Setup).
	State *statecollector.Observations
	// Databases checks and migrates Tenants' PostgreSQL state stores in
	// the background (shared with the state collector); one is made when
	// nil.
	Databases    *statedb.Databases
	StateChanged <-chan event.TypedGenericEvent[client.Object]
	// users follows the users Secrets and connection client secrets the
	// Tenants name.
	users *usersDirectory
	// discovery remembers the connections' upstream discovery checks.
	discovery *discoveryChecks
	// GatewayAPI and CertManager: the cluster serves HTTPRoutes, and
	// cert-manager Certificates (Options.GatewayAPI, Options.CertManager).
	GatewayAPI, CertManager bool
}

func (r *TenantReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// +kubebuilder:rbac:groups=idtenant.dev,resources=tenants,verbs=get;list;watch
// +kubebuilder:rbac:groups=idtenant.dev,resources=tenants/status,verbs=get;update;patch
// Secrets everywhere: credentials Secrets live in every namespace a Tenant
// admits. What the Tenant reconciler creates in the Tenant's namespace only
// (workload, RBAC, Leases, state records) is granted by a separate
// ClusterRole, idtenant-manager-tenants, whose markers are in
// controllers/manager/rbac.go: bound cluster-wide by default, or per namespace
// with --tenant-namespaces (docs/security.md).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// Reconcile runs the Tenant's steps in status.Pipeline's shape.
func (r *TenantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return (&status.Pipeline[*v1alpha1.Tenant, tenantObservation]{
		Client: r.Client, Recorder: r.Recorder, Kind: "Tenant",
		New:     func() *v1alpha1.Tenant { return &v1alpha1.Tenant{} },
		Forget:  r.passes.forget,
		Start:   r.start,
		Recover: recoverForeignObject,
		Status:  r.finish,
	}).Reconcile(ctx, req)
}

// start chooses the steps of this pass. A Tenant outside the served
// namespaces gets none (not even a Secret is written: the operator holds no
// rights there); inside the window after a full pass only the issuer is
// observed (coalesce.go), and the full pass follows when the window ends.
func (r *TenantReconciler) start(_ context.Context, tenant *v1alpha1.Tenant) (*tenantObservation, []status.Step[*v1alpha1.Tenant, tenantObservation]) {
	start := r.now()
	obs := tenantObservation{effective: lifetime.ForTenant(tenant.Name, tenant.Spec), audienceClaims: tenant.Status.AudienceClaims}
	if !servesNamespace(r.TenantNamespaces, tenant.Namespace) {
		obs.namespaceProblem = &status.Problem{Reason: v1alpha1.ReasonNamespaceNotServed, Stalls: true,
			Message: fmt.Sprintf("this operator serves Tenants only in namespaces %s (--tenant-namespaces), where it may create the issuer's workload and RBAC; move the Tenant there or add %q to that list and to the operator's RoleBindings",
				strings.Join(r.TenantNamespaces, ", "), tenant.Namespace)}
		return &obs, nil
	}
	wait, last := r.passes.window(tenant, start)
	if wait > 0 {
		last.effective = obs.effective
		last.pass = passTiming{start: start, wait: wait}
		return &last, []status.Step[*v1alpha1.Tenant, tenantObservation]{r.observeIssuer, r.observeState}
	}
	obs.pass = passTiming{start: start}
	return &obs, []status.Step[*v1alpha1.Tenant, tenantObservation]{
		r.checkIssuerURL,
		r.readUsers,
		r.readConnections,
		r.readStateDatabase,
		r.gatherServed,
		r.recordAudienceClaims,
		r.reconcileKeys,
		r.renderConfig,
		r.applyWorkload,
		r.applyExposure,
		r.observeIssuer,
		r.observeState,
	}
}

// recoverForeignObject turns an object of ours that someone else owns into
// the status it stalls on (ForeignObject), not a retry.
func recoverForeignObject(obs *tenantObservation, err error) error {
	var foreign *foreignObjectError
	if errors.As(err, &foreign) {
		obs.ownershipProblem = &status.Problem{Reason: v1alpha1.ReasonForeignObject, Stalls: true, Message: foreign.Error()}
		return nil
	}
	return err
}

// finish writes status and asks to look again at the earliest of: the next
// full pass, a recheck of what is not watched (foreign objects are not
// labelled as ours, connections' discovery), the next key rotation step
// (due at a time, not on an event). A replica that stops renewing causes no
// event: staleLeases watches the clock for that and wakes this Tenant.
func (r *TenantReconciler) finish(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) (ctrl.Result, error) {
	if obs.namespaceProblem != nil {
		if err := r.writeStatus(ctx, tenant, *obs); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, status.TerminalIfStalled(tenant.Status.Conditions)
	}
	if obs.pass.wait == 0 {
		r.passes.record(tenant, obs.pass.start, r.now(), *obs)
	}
	if err := r.writeStatus(ctx, tenant, *obs); err != nil {
		return ctrl.Result{}, err
	}
	var result ctrl.Result
	soonest := func(d time.Duration) {
		if d > 0 && (result.RequeueAfter == 0 || d < result.RequeueAfter) {
			result.RequeueAfter = d
		}
	}
	soonest(obs.pass.wait)
	if obs.ownershipProblem != nil {
		soonest(serving.CredentialsRecheck)
	}
	soonest(obs.connectionsRecheck)
	if obs.stateDB != nil {
		soonest(obs.stateDB.recheck)
	}
	if next := keys.NextStep(obs.keys, obs.keyPolicy); !next.IsZero() {
		soonest(max(next.Sub(r.now()), time.Second))
	}
	if next := keys.NextSealingStep(obs.sealingKeys, obs.sealingPolicy); !next.IsZero() {
		soonest(max(next.Sub(r.now()), time.Second))
	}
	return result, nil
}

// readUsers reads the user directory from spec.usersSecretRef, parsing the
// Secret again only when it changed (users.go). The hashes go into
// the issuer configuration only, never into status or logs.
func (r *TenantReconciler) readUsers(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	ref := tenant.Spec.UsersSecretRef
	if ref == nil {
		return nil
	}
	key := client.ObjectKey{Namespace: tenant.Namespace, Name: ref.Name}
	users, parseErr, err := r.users.read(ctx, r.APIReader, key)
	if err != nil {
		if apierrors.IsNotFound(err) {
			obs.usersProblem = &status.Problem{Reason: v1alpha1.ReasonUsersSecretMissing,
				Message: fmt.Sprintf("Secret %s named in spec.usersSecretRef does not exist; users cannot log in until it does", key)}
			return nil
		}
		return fmt.Errorf("getting users Secret %s: %w", key, err)
	}
	if parseErr != nil {
		obs.usersProblem = &status.Problem{Reason: v1alpha1.ReasonUsersSecretInvalid, Stalls: true,
			Message: fmt.Sprintf("Secret %s named in spec.usersSecretRef: %v", key, parseErr)}
		return nil
	}
	obs.users = users
	return nil
}

func (r *TenantReconciler) writeStatus(ctx context.Context, tenant *v1alpha1.Tenant, obs tenantObservation) error {
	before := tenant.DeepCopy()
	tenant.Status = tenantStatus(tenant, obs)
	if err := status.PatchStatus(ctx, r.Client, r.Recorder, tenant, before); err != nil {
		return err
	}
	status.ObjectMetrics.Tenant(tenant)
	return nil
}

// SetupWithManager watches Tenants, the Applications and APIs that attach to
// them (for the counts) and Namespace labels (for Selector admission).
func (r *TenantReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toTenant := func(_ context.Context, o client.Object) []reconcile.Request {
		var ref v1alpha1.TenantReference
		switch obj := o.(type) {
		case *v1alpha1.Application:
			ref = obj.Spec.TenantRef
		case *v1alpha1.API:
			ref = obj.Spec.TenantRef
		}
		return []reconcile.Request{{NamespacedName: serving.TenantKey(ref, o.GetNamespace())}}
	}
	allTenants := func(ctx context.Context, _ client.Object) []reconcile.Request {
		return serving.ListRequests(ctx, r.Client, &v1alpha1.TenantList{})
	}
	stale := make(chan event.TypedGenericEvent[client.Object])
	if err := mgr.Add(&staleLeases{cache: mgr.GetCache(), now: r.now, events: stale}); err != nil {
		return err
	}
	if r.Databases == nil {
		r.Databases = statedb.New(r.Now)
	}
	if r.discovery == nil {
		r.discovery = newDiscoveryChecks(r.now)
	}
	if r.users == nil {
		users, err := newUsersDirectory(mgr, r.TenantNamespaces)
		if err != nil {
			return err
		}
		r.users = users
	}
	b := ctrl.NewControllerManagedBy(mgr)
	if r.StateChanged != nil {
		// The state collector's numbers of a Tenant changed.
		b = b.WatchesRawSource(source.Channel(r.StateChanged, &handler.EnqueueRequestForObject{}))
	}
	if r.GatewayAPI {
		b = b.Owns(&gatewayv1.HTTPRoute{}) // status: the Gateway's verdict
	}
	if r.CertManager {
		b = b.Owns(certificate()) // status: Ready once issued
	}
	return b.
		// Spec changes, and a new value of the sealing key's rotation
		// annotation.
		For(&v1alpha1.Tenant{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, sealingRotationRequested))).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		// Owned children: drift (an edit, a deletion) is repaired.
		Owns(&corev1.Secret{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.Deployment{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&corev1.ResourceQuota{}).
		Owns(&coordinationv1.Lease{}, builder.WithPredicates(leaseReportChanged)).
		Watches(&v1alpha1.Application{}, handler.EnqueueRequestsFromMapFunc(toTenant),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.API{}, handler.EnqueueRequestsFromMapFunc(toTenant),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A confidential client enters the configuration once its
		// credentials Secret exists; that Secret is owned by the
		// Application, so map it to the Application's Tenant.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forCredentials)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(allTenants),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// Of two Tenants with one issuer URL the younger is Stalled until
		// the older one goes or moves: both old and new URL are mapped.
		Watches(&v1alpha1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.sameIssuerURL),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(stale, &handler.EnqueueRequestForObject{})).
		// An upstream's discovery check, run in the background, ended.
		WatchesRawSource(source.Channel(r.discovery.wake, &handler.EnqueueRequestForObject{})).
		// A PostgreSQL state store's check, run in the background, ended.
		WatchesRawSource(source.Channel(r.Databases.Wake(), &handler.EnqueueRequestForObject{})).
		// A users Secret's edit reaches the next configuration.
		WatchesRawSource(r.users.source(mgr.GetClient())).
		Named("tenant").
		Complete(r)
}

// forCredentials maps an Application's credentials Secret to its Tenant.
func (r *TenantReconciler) forCredentials(ctx context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[serving.LabelApplication]
	if name == "" {
		return nil
	}
	app := &v1alpha1.Application{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: o.GetNamespace(), Name: name}, app); err != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: serving.TenantKey(app.Spec.TenantRef, app.Namespace)}}
}

// servesNamespace says whether Tenants in namespace are served: every
// namespace when namespaces is empty.
func servesNamespace(namespaces []string, namespace string) bool {
	return len(namespaces) == 0 || slices.Contains(namespaces, namespace)
}
