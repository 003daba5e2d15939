// Package manager builds the idtenant controller manager — the client, the
// cache, metrics, health probes, leader election — and hands it to
// controllers.Setup. It is the operator's composition root, shared by the
// `manager` mode, idtenant-dev and the envtest suites, so that all of them
// run the same wiring. Its RBAC markers render the ClusterRole
// idtenant-manager-tenants (rbac.go).
package manager

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers"
	"github.com/idtenant/idtenant/internal/kubescheme"
	"github.com/idtenant/idtenant/internal/render"
	"github.com/idtenant/idtenant/internal/statecollector"
)

// Options configures the manager.
type Options struct {
	// MetricsAddr serves Prometheus metrics; "0" disables them.
	MetricsAddr string
	// MetricsSecure serves metrics over HTTPS and lets a request through
	// only when its bearer token authenticates (TokenReview) and its user
	// may get the non-resource URL /metrics (SubjectAccessReview), as
	// kubebuilder's layout does: ClusterRole idtenant-metrics-reader
	// grants that. Without a certificate directory the certificate is
	// self-signed, generated at start.
	MetricsSecure bool
	// MetricsCertDir holds tls.crt and tls.key for MetricsSecure (from a
	// cert-manager Certificate, say); empty: self-signed.
	MetricsCertDir string
	// HealthAddr serves /healthz and /readyz; "0" disables them.
	HealthAddr string
	// LeaderElection makes replicas elect one active manager.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease when not in-cluster.
	LeaderElectionNamespace string
	// IssuerImage is the image of issuer Deployments (this binary's image).
	IssuerImage string
	// IssuerShutdownDelay is how long a stopping issuer Pod keeps serving,
	// not ready, while endpoints and load balancers drop it, before it
	// drains its requests; issuerconfig.DefaultShutdownDelay when zero.
	IssuerShutdownDelay time.Duration
	// AllowedClusterIssuers limits the cert-manager cluster-scoped issuers
	// Tenants may use (--allowed-cluster-issuers; empty: any).
	AllowedClusterIssuers []string
	// AllowedIngressAnnotations limits the annotations a Tenant's Ingress
	// may carry (--allowed-ingress-annotations; empty: any but snippets).
	AllowedIngressAnnotations []string
	// IssuerMetricsFrom, when set, makes every Tenant's issuer get a
	// NetworkPolicy admitting its metrics port only from the namespaces it
	// selects (--issuer-metrics-from).
	IssuerMetricsFrom *metav1.LabelSelector
	// IssuerPodDefaults are the issuer Pods' defaults, which a Tenant's
	// spec.issuer overrides field by field (--issuer-pod-defaults).
	IssuerPodDefaults v1alpha1.IssuerPodSpec
	// ClientSecretActivation overrides how long a rotated client secret
	// waits before applications are handed it (tests).
	ClientSecretActivation time.Duration
	// Now is the clock of key rotation; time.Now when nil (tests move it).
	Now func() time.Time
	// Restartable lets a process build the manager more than once (tests
	// that kill and restart it); controller names must otherwise be unique.
	Restartable bool
	// StateCollection tunes the collection of expired issuer state
	// records (zero: a pass every 30s, at most 2000 deletes per round).
	StateCollection statecollector.Options
	// TenantNamespaces, when set, restricts Tenants to these namespaces:
	// the manager watches the issuer's children (Deployments, Services,
	// ServiceAccounts, Roles, RoleBindings, PDBs, Leases) only there, and
	// needs ClusterRole idtenant-manager-tenants bound only there. Tenants
	// elsewhere are Stalled (NamespaceNotServed). Empty: every namespace.
	TenantNamespaces []string
	// Workers is how many objects of each kind are reconciled at once
	// (default DefaultWorkers). One Tenant, Application or API is never
	// reconciled twice at the same time.
	Workers int
	// KubeAPIQPS and KubeAPIBurst bound the requests the manager sends the
	// API server (client-side; the server's API Priority and Fairness
	// applies as well). Zero keeps the rest.Config's values; a negative QPS
	// lifts the client-side limit.
	KubeAPIQPS   float64
	KubeAPIBurst int
}

// The manager's request budget: client-go's default (5 per second,
// controller-runtime's 20) would make importing 5,000 Applications, about
// three writes each, take ten minutes however fast the reconcilers are.
const (
	DefaultKubeAPIQPS   = 200
	DefaultKubeAPIBurst = 400
)

// DefaultWorkers is Options.Workers' default. Reconciles spend most of their
// time waiting for the API server, so a few in flight keep a large tenant's
// import moving without adding much CPU.
const DefaultWorkers = 8

// NewScheme registers the built-in types and idtenant's.
func NewScheme() *runtime.Scheme { return kubescheme.New() }

// ManagedSecrets selects the Secrets idtenant creates; the manager caches
// only those, not every Secret in the cluster.
var ManagedSecrets = labels.SelectorFromSet(labels.Set{"app.kubernetes.io/managed-by": "idtenant"})

// CacheOptions caches only what idtenant creates, never every Secret,
// Deployment or Lease of the cluster: each kind is filtered by the
// managed-by label, and the kinds that live in Tenant namespaces only are
// watched only there when tenantNamespaces is set (the manager would not be
// allowed to list them elsewhere). Secrets are watched everywhere, still by
// label: Applications' credentials live in every namespace a Tenant admits.
//
// HTTPRoutes and cert-manager Certificates are cached only when the cluster
// serves them: the cache cannot be built for a kind the API server does not
// know.
func CacheOptions(tenantNamespaces []string, gatewayAPI, certManager bool) cache.Options {
	var where map[string]cache.Config
	if len(tenantNamespaces) > 0 {
		where = make(map[string]cache.Config, len(tenantNamespaces))
		for _, ns := range tenantNamespaces {
			where[ns] = cache.Config{}
		}
	}
	tenantOnly := cache.ByObject{Label: ManagedSecrets, Namespaces: where}
	opts := cache.Options{
		// Nothing reads managedFields; at 5,000 Applications they were a
		// third of the cache's memory and of every copy made from it.
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                {Label: ManagedSecrets},
			&corev1.ServiceAccount{}:        tenantOnly,
			&corev1.Service{}:               tenantOnly,
			&appsv1.Deployment{}:            tenantOnly,
			&rbacv1.Role{}:                  tenantOnly,
			&rbacv1.RoleBinding{}:           tenantOnly,
			&policyv1.PodDisruptionBudget{}: tenantOnly,
			&corev1.ResourceQuota{}:         tenantOnly,
			&coordinationv1.Lease{}:         tenantOnly,
			&networkingv1.Ingress{}:         tenantOnly,
			&networkingv1.NetworkPolicy{}:   tenantOnly,
		}}
	if gatewayAPI {
		opts.ByObject[&gatewayv1.HTTPRoute{}] = tenantOnly
	}
	if certManager {
		cert := &unstructured.Unstructured{}
		cert.SetGroupVersionKind(render.CertificateGVK)
		opts.ByObject[cert] = tenantOnly
	}
	return opts
}

// serves asks the API server whether it serves kind (its CRD is
// installed).
func serves(cfg *rest.Config, gvk schema.GroupVersionKind) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err
	}
	list, err := dc.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", gvk.GroupVersion(), err)
	}
	for _, r := range list.APIResources {
		if r.Kind == gvk.Kind {
			return true, nil
		}
	}
	return false, nil
}

// New builds a manager with every idtenant controller registered.
func New(ctx context.Context, cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	if opts.KubeAPIQPS != 0 || opts.KubeAPIBurst != 0 {
		cfg = rest.CopyConfig(cfg)
		if opts.KubeAPIQPS != 0 {
			cfg.QPS = float32(opts.KubeAPIQPS)
		}
		if opts.KubeAPIBurst != 0 {
			cfg.Burst = opts.KubeAPIBurst
		}
	}
	if opts.MetricsSecure && opts.MetricsCertDir != "" {
		// controller-runtime would quietly fall back to a self-signed
		// certificate; a scraper that verifies would then fail obscurely.
		for _, f := range []string{"tls.crt", "tls.key"} {
			if _, err := os.Stat(filepath.Join(opts.MetricsCertDir, f)); err != nil {
				return nil, fmt.Errorf("--metrics-cert-dir %s: %w", opts.MetricsCertDir, err)
			}
		}
	}
	gatewayAPI, err := serves(cfg, schema.GroupVersionKind{Group: gatewayv1.GroupVersion.Group, Version: gatewayv1.GroupVersion.Version, Kind: "HTTPRoute"})
	if err != nil {
		return nil, err
	}
	certManager, err := serves(cfg, render.CertificateGVK)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  NewScheme(),
		Metrics:                 metricsOptions(opts),
		HealthProbeBindAddress:  opts.HealthAddr,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        "idtenant-manager.idtenant.dev",
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		Controller:              ctrlconfig.Controller{SkipNameValidation: &opts.Restartable, MaxConcurrentReconciles: cmp.Or(opts.Workers, DefaultWorkers)},
		// Issuer state records are never cached: a tenant may hold
		// 100,000 sessions. Should anything read them through the
		// manager's client, it reads the API server.
		// Unstructured: cert-manager Certificates (not imported as Go
		// types) are read from the cache like everything else.
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true, DisableFor: []client.Object{
			&statev1alpha1.Session{}, &statev1alpha1.AuthorizationCode{},
			&statev1alpha1.RefreshFamily{}, &statev1alpha1.RevokedToken{}, &statev1alpha1.Consent{},
		}}},
		Cache: CacheOptions(opts.TenantNamespaces, gatewayAPI, certManager),
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{IssuerImage: opts.IssuerImage, IssuerShutdownDelay: opts.IssuerShutdownDelay, AllowedClusterIssuers: opts.AllowedClusterIssuers, AllowedIngressAnnotations: opts.AllowedIngressAnnotations, IssuerMetricsFrom: opts.IssuerMetricsFrom, IssuerPodDefaults: opts.IssuerPodDefaults, ClientSecretActivation: opts.ClientSecretActivation, Now: opts.Now,
		StateCollection: opts.StateCollection, TenantNamespaces: opts.TenantNamespaces,
		GatewayAPI: gatewayAPI, CertManager: certManager}); err != nil {
		return nil, err
	}
	if opts.HealthAddr != "0" && opts.HealthAddr != "" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, fmt.Errorf("adding health check: %w", err)
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return nil, fmt.Errorf("adding ready check: %w", err)
		}
	}
	return mgr, nil
}

// metricsOptions serves the metrics as opts say; see Options.MetricsSecure.
// The reviews need ClusterRole idtenant-metrics-auth
// (config/rbac/metrics_auth_role.yaml).
func metricsOptions(opts Options) metricsserver.Options {
	o := metricsserver.Options{BindAddress: opts.MetricsAddr}
	if opts.MetricsSecure {
		o.SecureServing = true
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
		o.CertDir = opts.MetricsCertDir
		// HTTP/1.1 only: HTTP/2's stream reset and continuation floods
		// (CVE-2023-44487, CVE-2023-39325) reach a metrics port before any
		// authentication; kubebuilder's scaffold turns it off the same way.
		o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	return o
}
