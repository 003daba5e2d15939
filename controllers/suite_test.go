package controllers_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/manager"
	"github.com/idtenant/idtenant/internal/controlplane"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres/pgtest"
	"github.com/idtenant/idtenant/internal/statecollector"
)

// k8s reaches the shared control plane; the manager runs against it for the
// whole package, as it would in a cluster.
var k8s client.Client

// restConfig reaches the control plane as an administrator.
var restConfig *rest.Config

// adminKubeconfig is a kubeconfig file for an administrator, for tests
// that run kubectl as a user would.
var adminKubeconfig string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Manager logs only with IDTENANT_TEST_LOG=1: they drown test output.
	logTo := io.Discard
	if os.Getenv("IDTENANT_TEST_LOG") != "" {
		logTo = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logTo)))
	cp, err := controlplane.Start("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer func() { _ = cp.Stop() }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	restConfig = cp.Config
	kubeconfig, err := cp.Kubeconfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "idtenant-controllers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	adminKubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(adminKubeconfig, kubeconfig, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s, err = client.New(cp.Config, client.Options{Scheme: manager.NewScheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	// Gateway API installed, as in most clusters that expose issuers
	// through a Gateway: Tenants' spec.exposure.gateway renders HTTPRoutes.
	if err := controlplane.InstallGatewayAPI(ctx, k8s, cp.Config); err != nil {
		fmt.Fprintln(os.Stderr, "Gateway API:", err)
		return 1
	}
	// And cert-manager's Certificate, for spec.exposure.ingress.CertManager.
	if err := controlplane.InstallCertManager(ctx, k8s, cp.Config); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager:", err)
		return 1
	}
	// The manager runs as its ServiceAccount with only config/rbac's
	// permissions, so every test also proves the RBAC is sufficient.
	mgrCfg, err := cp.ManagerConfig(ctx, k8s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager RBAC:", err)
		return 1
	}
	// No client-side rate limit, as ctrl.GetConfig leaves it in a cluster
	// (API priority and fairness applies instead): the state collector's
	// delete budget is what paces it.
	mgrCfg.QPS = -1
	mgr, err := manager.New(ctx, mgrCfg, manager.Options{MetricsAddr: "0", HealthAddr: "0",
		// Quick passes, so tests see records collected and counted within
		// seconds; the default budget, so a 10,000-record backlog takes
		// several rounds as it would in a cluster.
		StateCollection: statecollector.Options{Period: 3 * time.Second, BusyPeriod: 200 * time.Millisecond,
			StatusInterval: 500 * time.Millisecond, Workers: 8},
		// As a platform team would: Tenants may use this ClusterIssuer
		// only, and set cert-manager's and the proxy timeouts of
		// ingress-nginx on their Ingress.
		AllowedClusterIssuers:     []string{"letsencrypt"},
		AllowedIngressAnnotations: []string{"cert-manager.io/*", "nginx.ingress.kubernetes.io/proxy-read-timeout"},
		// Prometheus runs in "monitoring": issuers get NetworkPolicies.
		IssuerMetricsFrom: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}},
		// A rotated client secret is handed out after 3 s, not 2 minutes.
		ClientSecretActivation: 3 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	go runFleet(ctx, kubernetes.NewForConfigOrDie(cp.Config))
	code := m.Run()
	cancel()
	<-done
	pgtest.StopShared()
	return code
}

// newNamespace creates a namespace unique to the calling test.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   controlplane.UniqueNamespace("t"),
		Labels: labels,
	}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// eventually retries assertions the way users wait for a controller: the
// timeout is generous because shared CI machines are slow, and it only
// bounds how long a failing test hangs.
func eventually(t *testing.T, f func(g Gomega)) {
	t.Helper()
	NewWithT(t).Eventually(f).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// kstatusOf computes the kstatus verdict Argo CD and Flux would reach.
func kstatusOf(g Gomega, obj client.Object) status.Status {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(&unstructured.Unstructured{Object: u})
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// readyOf returns the status of the Ready condition of an idtenant object.
func readyOf(o client.Object) metav1.ConditionStatus {
	var conds []metav1.Condition
	switch obj := o.(type) {
	case *v1alpha1.Tenant:
		conds = obj.Status.Conditions
	case *v1alpha1.Application:
		conds = obj.Status.Conditions
	case *v1alpha1.API:
		conds = obj.Status.Conditions
	}
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); c != nil {
		return c.Status
	}
	return metav1.ConditionUnknown
}
