package release

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/internal/controlplane"
)

// TestUpgradeKeepsEveryField: a real API server with the previous
// release's CRDs holds what its users wrote (config/samples and a Tenant,
// API and Application with most fields set); the CRDs are upgraded to this
// tree's, as `kubectl apply --server-side -f dist/install.yaml` or `helm
// upgrade` does. Every field reads back unchanged (a field removed or
// renamed would be pruned), and every object still takes an update (a new
// validation rule that old objects fail would block every GitOps sync).
func TestUpgradeKeepsEveryField(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if _, err := controlplane.BinaryDir(); err != nil {
			t.Skip(err)
		}
	}
	previous := readCRDs(t, "testdata/upgrade/previous-crds.yaml")
	cp, err := controlplane.StartWithCRDs("", previous)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var objs []*unstructured.Unstructured
	samples, _ := filepath.Glob("../../config/samples/[0-9]*.yaml")
	for _, f := range append(samples, "testdata/upgrade/objects.yaml") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := Objects(data)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	before := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %s %s with the previous CRDs: %v", o.GetKind(), o.GetName(), err)
		}
		if isOurs(o) {
			before[key(o)] = o.DeepCopy()
		}
	}
	if len(before) < 8 {
		t.Fatalf("%d idtenant objects written: the fixtures lost some", len(before))
	}

	for _, crd := range readCRDs(t, "../../config/crd/bases/idtenant.dev_tenants.yaml", "../../config/crd/bases/idtenant.dev_applications.yaml", "../../config/crd/bases/idtenant.dev_apis.yaml") {
		current := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: crd.Name}, current); err != nil {
			t.Fatal(err)
		}
		current.Spec = crd.Spec
		if err := c.Update(ctx, current); err != nil {
			t.Fatalf("upgrading CRD %s: %v", crd.Name, err)
		}
	}
	// The API server serves the new schema once it has rebuilt its
	// handler: a dry-run update setting a field only the new schema knows
	// (spec.issuer) keeps it from then on, instead of pruning it.
	probe := before["Tenant storefront/shop"].DeepCopy()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur := probe.DeepCopy()
		if err := c.Get(ctx, client.ObjectKeyFromObject(probe), cur); err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(cur.Object, "system-cluster-critical", "spec", "issuer", "priorityClassName")
		if err := c.Update(ctx, cur, client.DryRunAll); err == nil {
			if _, ok, _ := unstructured.NestedString(cur.Object, "spec", "issuer", "priorityClassName"); ok {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the API server never served the upgraded Tenant schema")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range before {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Object["spec"], want.Object["spec"]) {
			a, _ := yaml.Marshal(want.Object["spec"])
			b, _ := yaml.Marshal(got.Object["spec"])
			t.Errorf("%s changed by the upgrade:\nbefore:\n%s\nafter:\n%s", key(want), a, b)
		}
		if !reflect.DeepEqual(got.GetLabels(), want.GetLabels()) {
			t.Errorf("%s labels %v, were %v", key(want), got.GetLabels(), want.GetLabels())
		}
		// An update (as a GitOps sync that changes an annotation) passes
		// the new validation, transition rules included.
		annotations := got.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations["upgrade-test/touched"] = "yes"
		got.SetAnnotations(annotations)
		if err := c.Update(ctx, got); err != nil {
			t.Errorf("updating %s after the upgrade: %v", key(want), err)
		}
	}
}

func isOurs(o *unstructured.Unstructured) bool {
	return o.GroupVersionKind().Group == "idtenant.dev"
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func readCRDs(t *testing.T, files ...string) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := controlplane.SplitYAML(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range docs {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.Unmarshal(doc, crd); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if crd.Name != "" {
				out = append(out, crd)
			}
		}
	}
	return out
}
