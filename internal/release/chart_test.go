package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// helm returns the helm binary `make test` builds into bin/ (HELM), or
// skips when run outside make without one.
func helm(t *testing.T) string {
	t.Helper()
	path := os.Getenv("HELM")
	if path == "" {
		t.Skip("HELM is not set (make test builds bin/helm and sets it)")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("HELM=%s: %v", path, err)
	}
	return path
}

const chartDir = "../../dist/chart"

// render runs `helm template` on dist/chart with values and returns the
// objects by kind/name.
func render(t *testing.T, values ...string) map[string]*unstructured.Unstructured {
	t.Helper()
	return byKindName(helmTemplate(t, true, values...))
}

func byKindName(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		out[o.GetKind()+"/"+o.GetName()] = o
	}
	return out
}

// withoutHelmMetadata returns a copy of a rendered object without what only
// the chart adds (its standard labels, on the object and on a Deployment's
// Pods, and the CRDs' keep annotation), for comparison with
// dist/install.yaml; it fails the test if a label is missing.
func withoutHelmMetadata(t *testing.T, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	o = o.DeepCopy()
	strip := func(path ...string) {
		labels, _, _ := unstructured.NestedStringMap(o.Object, path...)
		for _, l := range HelmLabels {
			if _, ok := labels[l]; !ok {
				t.Errorf("%s/%s has no label %s", o.GetKind(), o.GetName(), l)
			}
			delete(labels, l)
		}
		if len(labels) == 0 {
			unstructured.RemoveNestedField(o.Object, path...)
		} else {
			_ = unstructured.SetNestedStringMap(o.Object, labels, path...)
		}
	}
	strip("metadata", "labels")
	if o.GetKind() == "Deployment" {
		strip("spec", "template", "metadata", "labels")
	}
	if a := o.GetAnnotations(); a != nil {
		delete(a, "helm.sh/resource-policy")
		o.SetAnnotations(a)
		if len(a) == 0 {
			unstructured.RemoveNestedField(o.Object, "metadata", "annotations")
		}
	}
	return o
}

func installed(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile("../../dist/install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(data)
	if err != nil {
		t.Fatal(err)
	}
	return byKindName(objs)
}

// TestChartDefaultsEqualInstallYAML: with default values the chart renders
// exactly what dist/install.yaml (kustomize's config/default) installs,
// object for object and field for field, but the Namespace, which Helm
// leaves to --create-namespace.
func TestChartDefaultsEqualInstallYAML(t *testing.T) {
	lint, err := exec.Command(helm(t), "lint", "--strict", chartDir).CombinedOutput()
	if err != nil {
		t.Fatalf("helm lint --strict: %v\n%s", err, lint)
	}
	chart := render(t)
	want := installed(t)
	for key, w := range want {
		if w.GetKind() == "Namespace" {
			if _, ok := chart[key]; ok {
				t.Errorf("the chart renders %s; the release namespace is Helm's", key)
			}
			continue
		}
		got, ok := chart[key]
		if !ok {
			t.Errorf("dist/install.yaml has %s, the chart does not", key)
			continue
		}
		got = withoutHelmMetadata(t, got)
		if !reflect.DeepEqual(got.Object, w.Object) {
			g, _ := yaml.Marshal(got.Object)
			k, _ := yaml.Marshal(w.Object)
			t.Errorf("%s differs.\nchart:\n%s\nkustomize:\n%s", key, g, k)
		}
	}
	for key := range chart {
		if _, ok := want[key]; !ok {
			t.Errorf("the chart renders %s, which dist/install.yaml does not install", key)
		}
	}
}

// TestChartValues: each value changes what it says and nothing else that
// would surprise (the release namespace reaches every binding).
func TestChartValues(t *testing.T) {
	chart := render(t, "image.repository=registry.example/idtenant", "image.tag=v9.9.9", "replicas=1", "leaderElection=false",
		"issuerImage=registry.example/idtenant@sha256:"+strings.Repeat("a", 64), "resources.limits.memory=1Gi",
		"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=kube-prometheus")
	dep := chart["Deployment/idtenant-manager"]
	if dep == nil {
		t.Fatal("no Deployment")
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	manager := containers[0].(map[string]any)
	if manager["image"] != "registry.example/idtenant:v9.9.9" {
		t.Errorf("image %v", manager["image"])
	}
	args := strings.Join(toStrings(manager["args"]), " ")
	if strings.Contains(args, "--leader-elect") || !strings.Contains(args, "--issuer-image=registry.example/idtenant@sha256:") {
		t.Errorf("args %s: want no --leader-elect and the issuer image override", args)
	}
	if mem, _, _ := unstructured.NestedString(manager, "resources", "limits", "memory"); mem != "1Gi" {
		t.Errorf("memory limit %q", mem)
	}
	sm := chart["ServiceMonitor/idtenant-manager"]
	if sm == nil || sm.GetLabels()["release"] != "kube-prometheus" {
		t.Fatalf("ServiceMonitor %v", sm)
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 || endpoints[0].(map[string]any)["honorLabels"] != true {
		t.Errorf("ServiceMonitor endpoints %v: want honorLabels, or every series says namespace=<the release's>", endpoints)
	}

	out, err := exec.Command(helm(t), "template", "idtenant", chartDir, "--namespace", "identity-ops").CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	objs, _ := Objects(out)
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && ns != "identity-ops" {
			t.Errorf("%s/%s in namespace %s, want the release's", o.GetKind(), o.GetName(), ns)
		}
		subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		for _, s := range subjects {
			if ns := s.(map[string]any)["namespace"]; ns != nil && ns != "identity-ops" {
				t.Errorf("%s/%s binds a subject in %v", o.GetKind(), o.GetName(), ns)
			}
		}
	}

	// Two active managers would fight over every object.
	fail, err := exec.Command(helm(t), "template", "idtenant", chartDir, "--set", "replicas=2", "--set", "leaderElection=false").CombinedOutput()
	if err == nil || !strings.Contains(string(fail), "replicas > 1 needs leaderElection: true") {
		t.Errorf("replicas=2 without leader election: %v\n%s", err, fail)
	}
}

// TestChartIsUpToDate regenerates the chart's generated files from
// dist/install.yaml and compares: `make verify` regenerates both from
// config/, this catches an edit of one without the other.
func TestChartIsUpToDate(t *testing.T) {
	data, err := os.ReadFile("../../dist/install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	chart, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(chart, &meta); err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile("../../config/prometheus/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := ChartFiles(data, rules, meta.Version)
	if err != nil {
		t.Fatal(err)
	}
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if files["README.md"], err = ChartReadme(values); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(chartDir, name))
		if err != nil || string(got) != string(want) {
			t.Errorf("dist/chart/%s is stale: run make build-installer", name)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestChartValuesAreDocumented: every value in values.yaml has a comment,
// which the generated README shows beside its default.
func TestChartValuesAreDocumented(t *testing.T) {
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := valueRows(values)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 30 {
		t.Fatalf("%d values read from values.yaml: the parser lost some", len(rows))
	}
	for _, r := range rows {
		if r.doc == "" {
			t.Errorf("value %s has no comment in values.yaml", r.path)
		}
	}
}
