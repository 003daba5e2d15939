package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/idtenant/idtenant/api/v1alpha1"
	apicontroller "github.com/idtenant/idtenant/controllers/api"
	applicationcontroller "github.com/idtenant/idtenant/controllers/application"
	serving "github.com/idtenant/idtenant/controllers/serving"
	tenantcontroller "github.com/idtenant/idtenant/controllers/tenant"
	"github.com/idtenant/idtenant/internal/statecollector"
	"github.com/idtenant/idtenant/internal/statedb"
)

// Options configures the reconcilers.
type Options struct {
	// IssuerImage is the image issuer Deployments run; default
	// DefaultIssuerImage.
	IssuerImage string
	// IssuerShutdownDelay is how long a stopping issuer Pod keeps serving,
	// not ready, before it drains; issuerconfig.DefaultShutdownDelay when
	// zero.
	IssuerShutdownDelay time.Duration
	// AllowedClusterIssuers limits the cert-manager cluster-scoped issuers
	// Tenants may use (empty: any).
	AllowedClusterIssuers []string
	// AllowedIngressAnnotations limits the annotations a Tenant's Ingress
	// may carry (empty: any but snippets).
	AllowedIngressAnnotations []string
	// IssuerMetricsFrom selects the namespaces that may scrape issuers;
	// set, every issuer gets a NetworkPolicy.
	IssuerMetricsFrom *metav1.LabelSelector
	// IssuerPodDefaults are the issuer Pods' defaults (a Tenant's
	// spec.issuer overrides them field by field).
	IssuerPodDefaults v1alpha1.IssuerPodSpec
	// ClientSecretActivation overrides how long a rotated client secret
	// waits in next-client-secret (tests; default
	// serving.ClientSecretActivation).
	ClientSecretActivation time.Duration
	// Now is the clock of key rotation and state expiry; time.Now when nil.
	Now func() time.Time
	// StateCollection tunes the collection of expired issuer state
	// records; zero fields take the defaults (a pass every 30s, at most
	// 2000 deletes per round).
	StateCollection statecollector.Options
	// TenantNamespaces, when set, are the only namespaces whose Tenants
	// are served; a Tenant elsewhere is Stalled (NamespaceNotServed). The
	// operator then needs the rights of ClusterRole
	// idtenant-manager-tenants in those namespaces only.
	TenantNamespaces []string
	// GatewayAPI and CertManager say whether the cluster serves HTTPRoutes
	// and cert-manager Certificates (the manager asked discovery once at
	// start): only then are they watched, cached and rendered.
	GatewayAPI, CertManager bool
}

// DefaultIssuerImage matches the image name in config/manager.
const DefaultIssuerImage = "idtenant:latest"

// Setup registers the cache indexes and all reconcilers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if opts.IssuerImage == "" {
		opts.IssuerImage = DefaultIssuerImage
	}
	if err := serving.SetupIndexes(ctx, mgr); err != nil {
		return err
	}
	rendered := &serving.RenderedCache{}
	// The state collector counts and collects issuer state records (on
	// the leader) and wakes a Tenant when its numbers changed; the Tenant
	// reconciler reports them.
	state := &statecollector.Observations{}
	stateChanged := make(chan event.TypedGenericEvent[client.Object])
	// Tenants' PostgreSQL state stores: checked and migrated for the
	// Tenant reconciler, collected by the state collector.
	databases := statedb.New(opts.Now)
	if err := mgr.Add(&statecollector.Collector{API: mgr.GetAPIReader(), Writer: mgr.GetClient(), Tenants: mgr.GetCache(), Now: opts.Now,
		Options: opts.StateCollection, Observations: state, Wake: stateChanged, Namespaces: opts.TenantNamespaces, Databases: databases}); err != nil {
		return fmt.Errorf("setting up the state collector: %w", err)
	}
	if err := (&tenantcontroller.TenantReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("idtenant-tenant"),
		IssuerImage: opts.IssuerImage, IssuerShutdownDelay: opts.IssuerShutdownDelay, AllowedClusterIssuers: opts.AllowedClusterIssuers, AllowedIngressAnnotations: opts.AllowedIngressAnnotations, IssuerMetricsFrom: opts.IssuerMetricsFrom, IssuerPodDefaults: opts.IssuerPodDefaults, Now: opts.Now, TenantNamespaces: opts.TenantNamespaces, Rendered: rendered,
		State: state, StateChanged: stateChanged, Databases: databases,
		GatewayAPI: opts.GatewayAPI, CertManager: opts.CertManager,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up Tenant controller: %w", err)
	}
	if err := (&applicationcontroller.ApplicationReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("idtenant-application"), Rendered: rendered,
		ClientSecretActivation: opts.ClientSecretActivation,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up Application controller: %w", err)
	}
	if err := (&apicontroller.APIReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("idtenant-api"), Rendered: rendered,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up API controller: %w", err)
	}
	return nil
}
