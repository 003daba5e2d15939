package argocd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// docObjects returns the objects of every yaml block in docs/gitops.md.
func docObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "gitops.md"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1) {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(m[1]), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("docs/gitops.md: %v", err)
			}
			objs = append(objs, u)
		}
	}
	return objs
}

// kustomizeSamples builds config/samples with patches, as Argo CD's
// spec.source.kustomize.patches and Flux's spec.patches do, with the
// kubectl of the test control plane, and returns "Kind/name" -> object.
func kustomizeSamples(t *testing.T, patches []any) map[string]*unstructured.Unstructured {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set (make test sets it): no kubectl to run kustomize")
	}
	dir := t.TempDir()
	samples, _ := filepath.Glob(filepath.Join("..", "samples", "*.yaml"))
	if err := os.Mkdir(filepath.Join(dir, "samples"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range samples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "samples", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k, err := yaml.Marshal(map[string]any{"resources": []any{"samples"}, "patches": patches})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), k, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	objs := map[string]*unstructured.Unstructured{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		objs[u.GetKind()+"/"+u.GetName()] = u
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestGitOpsDocArgoCD checks what docs/gitops.md promises for Argo CD: the
// samples Application's patches put the Tenant before the APIs and the APIs
// before the Applications, and leave everything else in wave 0.
func TestGitOpsDocArgoCD(t *testing.T) {
	objs := docObjects(t)
	app := find(objs, "Application", "acme-identity")
	if app == nil || app.GetAPIVersion() != "argoproj.io/v1alpha1" {
		t.Fatal("docs/gitops.md has no Argo CD Application acme-identity")
	}
	if path, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path"); path != "config/samples" {
		t.Errorf("it deploys %q, want config/samples", path)
	}
	patches, _, _ := unstructured.NestedSlice(app.Object, "spec", "source", "kustomize", "patches")
	want := map[string]string{"Tenant": "1", "API": "2", "Application": "3"}
	for name, o := range kustomizeSamples(t, patches) {
		got := o.GetAnnotations()["argocd.argoproj.io/sync-wave"]
		if w := want[o.GetKind()]; got != w {
			t.Errorf("%s: sync wave %q, want %q", name, got, w)
		}
	}
	if find(objs, "Application", "idtenant") == nil {
		t.Error("docs/gitops.md has no Argo CD Application for the operator")
	}
}

// TestGitOpsDocFlux checks what docs/gitops.md promises for Flux: the two
// sample Kustomizations together apply every sample object exactly once, the
// first the Tenant side, the second the APIs and Applications; both wait, and
// each depends on the one before.
func TestGitOpsDocFlux(t *testing.T) {
	objs := docObjects(t)
	ks := func(name string) *unstructured.Unstructured {
		k := find(objs, "Kustomization", name)
		if k == nil || k.GetAPIVersion() != "kustomize.toolkit.fluxcd.io/v1" {
			t.Fatalf("docs/gitops.md has no Flux Kustomization %s", name)
		}
		return k
	}
	operator, identity, apps := ks("idtenant"), ks("acme-identity"), ks("acme-apps")
	if checks, _, _ := unstructured.NestedSlice(operator.Object, "spec", "healthChecks"); len(checks) == 0 {
		t.Error("the operator's Kustomization has no healthChecks")
	}
	halves := map[string][]string{}
	for _, c := range []struct {
		k         *unstructured.Unstructured
		dependsOn string
	}{{identity, "idtenant"}, {apps, "acme-identity"}} {
		if wait, _, _ := unstructured.NestedBool(c.k.Object, "spec", "wait"); !wait {
			t.Errorf("%s: wait is not true", c.k.GetName())
		}
		deps, _, _ := unstructured.NestedSlice(c.k.Object, "spec", "dependsOn")
		if len(deps) != 1 || deps[0].(map[string]any)["name"] != c.dependsOn {
			t.Errorf("%s: dependsOn %v, want %s", c.k.GetName(), deps, c.dependsOn)
		}
		if path, _, _ := unstructured.NestedString(c.k.Object, "spec", "path"); path != "./config/samples" {
			t.Errorf("%s: path %q", c.k.GetName(), path)
		}
		patches, _, _ := unstructured.NestedSlice(c.k.Object, "spec", "patches")
		for name := range kustomizeSamples(t, patches) {
			halves[c.k.GetName()] = append(halves[c.k.GetName()], name)
		}
		sort.Strings(halves[c.k.GetName()])
	}
	all := kustomizeSamples(t, nil)
	seen := map[string]string{}
	for half, names := range halves {
		for _, n := range names {
			if other, dup := seen[n]; dup {
				t.Errorf("%s is applied by both %s and %s", n, other, half)
			}
			seen[n] = half
		}
	}
	for n := range all {
		if seen[n] == "" {
			t.Errorf("%s is applied by neither Kustomization", n)
		}
	}
	for n, half := range seen {
		kind := strings.Split(n, "/")[0]
		if wantApps := kind == "API" || kind == "Application"; wantApps != (half == "acme-apps") {
			t.Errorf("%s is applied by %s", n, half)
		}
	}
}
