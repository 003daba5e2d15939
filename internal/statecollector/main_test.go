package statecollector_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/controlplane"
)

// restConfig reaches a real API server (with the state CRDs) as an
// administrator. No manager runs: the tests drive the collector round by
// round over Tenants that need not exist.
var restConfig *rest.Config

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	cp, err := controlplane.Start("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	restConfig = cp.Config
	return m.Run()
}

// fastClient reaches the API server without client-side rate limiting, to
// create and count thousands of records quickly.
func fastClient(t testing.TB) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS = -1
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, statev1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newNamespace creates a namespace unique to the calling test.
func newNamespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   controlplane.UniqueNamespace("t"),
		Labels: labels,
	}}
	if err := fastClient(t).Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}
