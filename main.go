// Command idtenant is one binary with two modes and a command:
//
//	idtenant [manager] [flags]   the Kubernetes operator (default)
//	idtenant issuer [flags]      the token issuer of one Tenant
//	idtenant version             the release, source revision and Go version
//
// The commands for people (explain, timeline) are the kubectl plugin's,
// cmd/kubectl-idtenant, so that this binary, which the image ships, carries
// no kubectl client libraries. The local control plane for a laptop is a
// separate command, cmd/idtenant-dev (make dev), so that none of it ships
// in the image either.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/manager"
	"github.com/idtenant/idtenant/internal/issuer/command"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/version"
)

// pluginOnly says where the commands for people are: not in the image that
// runs the manager and the issuers (which then carries no kubectl client
// libraries), but in the kubectl plugin.
const pluginOnly = `explain, timeline and completion are commands of the kubectl plugin, kubectl-idtenant:
  make build writes bin/kubectl-idtenant; make release-artifacts archives it for krew
  kubectl idtenant explain (tenant|application|api) NAME -n NAMESPACE`

func main() {
	mode, args := "manager", os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl") {
		// A copy of this binary put on PATH as the plugin would start a
		// manager; the plugin is a build of its own.
		mode = "explain"
	}
	if mode != "manager" {
		// The manager sets its logger from its --zap-* flags.
		ctrl.SetLogger(zap.New(zap.UseDevMode(false), zap.Level(zapcore.InfoLevel)))
	}
	ctx := ctrl.SetupSignalHandler()

	var err error
	switch mode {
	case "manager":
		err = runManager(ctx, args)
	case "issuer":
		err = command.Run(ctx, args)
	case "dev":
		err = errors.New("dev mode is a command of its own: make dev, or bin/idtenant-dev (cmd/idtenant-dev)")
	case "explain", "timeline", "completion":
		err = errors.New(pluginOnly)
	case "help", "-h", "--help":
		fmt.Println("usage: idtenant [manager|issuer] [flags]; idtenant <mode> -h lists a mode's flags\n       idtenant version\n" + pluginOnly)
		return
	case "version", "--version":
		fmt.Println(version.Get())
		return
	default:
		err = fmt.Errorf("unknown mode %q: want manager, issuer or version", mode)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "idtenant:", err)
		os.Exit(1)
	}
}

func runManager(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("manager", flag.ContinueOnError)
	var opts manager.Options
	fl.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint; 0 disables it")
	fl.BoolVar(&opts.MetricsSecure, "metrics-secure", true, "serve metrics over HTTPS to authenticated callers allowed to get /metrics (ClusterRole idtenant-metrics-reader); false: plain HTTP to anyone who reaches the port")
	fl.StringVar(&opts.MetricsCertDir, "metrics-cert-dir", "", "directory with tls.crt and tls.key for the metrics endpoint; empty: a self-signed certificate")
	fl.StringVar(&opts.HealthAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fl.BoolVar(&opts.LeaderElection, "leader-elect", false, "elect one active manager among replicas")
	fl.StringVar(&opts.IssuerImage, "issuer-image", os.Getenv("IDTENANT_ISSUER_IMAGE"), "image of the issuer Deployments; empty: this manager's own image, read from its Pod (POD_NAMESPACE, POD_NAME) and pinned to the digest the node pulled")
	fl.DurationVar(&opts.IssuerShutdownDelay, "issuer-shutdown-delay", issuerconfig.DefaultShutdownDelay, "how long a stopping issuer Pod keeps serving (not ready) while its Service's endpoints and load balancers drop it, before it stops accepting and drains its requests in flight; its terminationGracePeriodSeconds follows")
	fl.IntVar(&opts.Workers, "workers", manager.DefaultWorkers, "objects of each kind (Tenant, Application, API) reconciled at once")
	fl.Float64Var(&opts.KubeAPIQPS, "kube-api-qps", manager.DefaultKubeAPIQPS, "requests per second the manager sends the API server at most (client-side limit; the server's API Priority and Fairness applies as well); negative: no client-side limit")
	fl.IntVar(&opts.KubeAPIBurst, "kube-api-burst", manager.DefaultKubeAPIBurst, "requests the manager may send in a burst above --kube-api-qps")
	tenantNamespaces := fl.String("tenant-namespaces", "", "comma-separated namespaces where Tenants may live; the manager then needs ClusterRole idtenant-manager-tenants bound in those namespaces only (config/tenant-namespaces). Empty: every namespace")
	allowedClusterIssuers := fl.String("allowed-cluster-issuers", "", "comma-separated cert-manager ClusterIssuers (and other cluster-scoped issuers) a Tenant's spec.exposure.ingress.certManager may name; a cluster-scoped issuer signs for any host. Empty: any")
	allowedIngressAnnotations := fl.String("allowed-ingress-annotations", "", "comma-separated annotation keys a Tenant's spec.exposure.ingress.annotations may set, exact or a prefix ending in * (e.g. nginx.ingress.kubernetes.io/proxy-*); the ingress controller serves every Ingress of the cluster. Empty: any but *-snippet")
	issuerMetricsFrom := fl.String("issuer-metrics-from", "", "label selector of the namespaces that may scrape issuers' metrics port (e.g. kubernetes.io/metadata.name=monitoring); set, every Tenant's issuer gets a NetworkPolicy admitting its http port from anywhere and its metrics port only from those namespaces. Empty: no NetworkPolicy")
	issuerPodDefaults := fl.String("issuer-pod-defaults", "", `JSON of the issuer Pods' defaults, the fields of a Tenant's spec.issuer (resources, imagePullSecrets, nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName, podAnnotations), e.g. {"nodeSelector":{"pool":"identity"}}; a Tenant's own spec.issuer fields replace them`)
	logOpts := zap.Options{TimeEncoder: zapcore.ISO8601TimeEncoder}
	logOpts.BindFlags(fl)
	err := fl.Parse(args)
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&logOpts)))
	build := version.Get()
	ctrl.Log.WithName("setup").Info("starting", "version", build.Version, "revision", build.Revision)
	if err := ctrlmetrics.Registry.Register(version.Collector()); err != nil {
		return fmt.Errorf("registering idtenant_build_info: %w", err)
	}
	opts.TenantNamespaces = commaList(*tenantNamespaces)
	opts.AllowedClusterIssuers = commaList(*allowedClusterIssuers)
	opts.AllowedIngressAnnotations = commaList(*allowedIngressAnnotations)
	if *issuerMetricsFrom != "" {
		sel, err := metav1.ParseToLabelSelector(*issuerMetricsFrom)
		if err != nil {
			return fmt.Errorf("--issuer-metrics-from: %w", err)
		}
		opts.IssuerMetricsFrom = sel
	}
	if opts.IssuerPodDefaults, err = parseIssuerPodDefaults(*issuerPodDefaults); err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	if opts.IssuerImage == "" {
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("connecting to the Kubernetes API: %w", err)
		}
		if opts.IssuerImage, err = manager.OwnImage(ctx, cs, os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME"), time.Minute); err != nil {
			return fmt.Errorf("finding the issuer image: %w", err)
		}
	}
	mgr, err := manager.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("starting manager", "issuerImage", opts.IssuerImage)
	return mgr.Start(ctx)
}

// commaList splits a comma-separated flag value, dropping empty entries.
func commaList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// parseIssuerPodDefaults reads --issuer-pod-defaults: a JSON object with
// the fields of a Tenant's spec.issuer, refusing unknown ones (a typo
// would otherwise be silently ignored).
func parseIssuerPodDefaults(v string) (v1alpha1.IssuerPodSpec, error) {
	var spec v1alpha1.IssuerPodSpec
	if strings.TrimSpace(v) == "" {
		return spec, nil
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return spec, fmt.Errorf("--issuer-pod-defaults: want a JSON object with the fields of a Tenant's spec.issuer: %w", err)
	}
	return spec, nil
}
