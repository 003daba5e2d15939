package argocd

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// healthTests is Argo CD's health_test.yaml.
type healthTests struct {
	Tests []struct {
		HealthStatus Health `json:"healthStatus"`
		InputPath    string `json:"inputPath"`
	} `json:"tests"`
}

// load reads a manifest the way Argo CD's tests and controller see it: an
// unstructured object, integers as int64.
func load(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

// kstatusAsArgo is the Argo CD status that matches a kstatus verdict.
var kstatusAsArgo = map[status.Status]string{
	status.InProgressStatus: Progressing,
	status.FailedStatus:     Degraded,
	status.CurrentStatus:    Healthy,
}

// TestArgoCDHealthChecks runs every case of every health_test.yaml, as
// Argo CD's own resource_customizations test does: each testdata object is
// one the operator produced on a real API server (TestKstatusAndArgoCDHealth
// in controllers/ exports them). Each verdict must also match kstatus on the
// same object, so Argo CD and Flux tell a user the same thing.
func TestArgoCDHealthChecks(t *testing.T) {
	for _, kind := range Kinds {
		dir := filepath.Join(Group, kind)
		script, err := Script(kind)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var tests healthTests
		if err := yaml.UnmarshalStrict(data, &tests); err != nil {
			t.Fatalf("%s/health_test.yaml: %v", dir, err)
		}
		covered := map[string]bool{}
		inputs := map[string]bool{}
		for _, tc := range tests.Tests {
			inputs[tc.InputPath] = true
			t.Run(kind+"/"+tc.InputPath, func(t *testing.T) {
				obj := load(t, filepath.Join(dir, tc.InputPath))
				if obj.GetKind() != kind || obj.GroupVersionKind().Group != Group {
					t.Fatalf("testdata is a %s, want %s/%s", obj.GroupVersionKind(), Group, kind)
				}
				got, err := Run(script, obj)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.HealthStatus {
					t.Errorf("health.lua says\n  %+v\nwant\n  %+v", got, tc.HealthStatus)
				}
				res, err := status.Compute(obj)
				if err != nil {
					t.Fatal(err)
				}
				if want := kstatusAsArgo[res.Status]; got.Status != want {
					t.Errorf("Argo CD says %s, kstatus says %s (%s)", got.Status, res.Status, res.Message)
				}
				covered[got.Status] = true
			})
		}
		for _, s := range []string{Healthy, Progressing, Degraded} {
			if !covered[s] {
				t.Errorf("%s: no test case is %s", kind, s)
			}
		}
		// Every testdata file is a test case, and every case has its file.
		files, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
		for _, f := range files {
			if rel := "testdata/" + filepath.Base(f); !inputs[rel] {
				t.Errorf("%s/%s is in no test case", dir, rel)
			}
		}
		if len(files) != len(tests.Tests) {
			t.Errorf("%s: %d testdata files, %d test cases", dir, len(files), len(tests.Tests))
		}
	}
}

// TestArgoCDHealthEdgeCases covers what the operator never writes but a
// script must still read right: an object from before the observedGeneration
// default, status written by hand, conditions in unusual combinations.
func TestArgoCDHealthEdgeCases(t *testing.T) {
	cond := func(typ, st, msg string) any {
		return map[string]any{"type": typ, "status": st, "message": msg, "reason": "Test"}
	}
	obj := func(status map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "idtenant.dev/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": "web", "namespace": "shop", "generation": int64(3)},
		}}
		if status != nil {
			u.Object["status"] = status
		}
		return u
	}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want Health
		// kstatus is the verdict kstatus reaches; empty where the script
		// deliberately differs.
		kstatus status.Status
	}{
		{"no status at all", obj(nil),
			Health{Progressing, "Waiting for the idtenant operator to observe this Application."}, ""},
		{"status without observedGeneration", obj(map[string]any{"conditions": []any{cond("Ready", "True", "fine")}}),
			Health{Progressing, "Waiting for the idtenant operator to observe this Application."}, ""},
		{"observedGeneration -1 with stale conditions", obj(map[string]any{"observedGeneration": int64(-1), "conditions": []any{cond("Ready", "True", "fine")}}),
			Health{Progressing, "Waiting for the idtenant operator to observe this Application."}, status.InProgressStatus},
		{"observedGeneration behind, Stalled", obj(map[string]any{"observedGeneration": int64(2), "conditions": []any{cond("Stalled", "True", "old problem")}}),
			Health{Progressing, "Waiting for the idtenant operator to observe generation 3 of this Application (status describes generation 2)."}, status.InProgressStatus},
		{"Ready=False alone", obj(map[string]any{"observedGeneration": int64(3), "conditions": []any{cond("Ready", "False", "not yet")}}),
			Health{Progressing, "not yet"}, status.InProgressStatus},
		{"Ready=Unknown after an error", obj(map[string]any{"observedGeneration": int64(3), "conditions": []any{cond("Ready", "Unknown", "Retrying after an error: boom")}}),
			Health{Progressing, "Retrying after an error: boom"}, status.InProgressStatus},
		{"no Ready condition", obj(map[string]any{"observedGeneration": int64(3), "conditions": []any{}}),
			Health{Progressing, "Waiting for the Ready condition."}, ""},
		{"Reconciling=False and Stalled=False are ignored", obj(map[string]any{"observedGeneration": int64(3), "conditions": []any{
			cond("Reconciling", "False", "x"), cond("Stalled", "False", "y"), cond("Ready", "True", "All good.")}}),
			Health{Healthy, "All good."}, status.CurrentStatus},
		{"Stalled wins over Reconciling", obj(map[string]any{"observedGeneration": int64(3), "conditions": []any{
			cond("Ready", "False", "refused"), cond("Stalled", "True", "refused"), cond("Reconciling", "True", "waiting")}}),
			Health{Degraded, "refused"}, status.FailedStatus},
		{"observedGeneration of the wrong type", obj(map[string]any{"observedGeneration": "3"}),
			Health{Progressing, "Waiting for the idtenant operator to observe this Application."}, ""},
	}
	script, err := Script("Application")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Run(script, c.obj)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			if c.kstatus == "" {
				return
			}
			res, err := status.Compute(c.obj)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.kstatus {
				t.Errorf("kstatus %s, want %s", res.Status, c.kstatus)
			}
		})
	}
}

// TestRunLikeArgoCD checks the harness itself behaves as Argo CD's Lua VM
// for argocd-cm scripts, so a script that passes here works there.
func TestRunLikeArgoCD(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{"kind": "API", "metadata": map[string]any{"generation": int64(7)}}}
	cases := []struct {
		name, script string
		want         Health
		wantErr      string
	}{
		{"integers arrive as numbers", `return {status = "Healthy", message = "gen " .. (obj.metadata.generation + 1)}`, Health{Healthy, "gen 8"}, ""},
		{"no string library in argocd-cm scripts", `return {status = string.upper("healthy")}`, Health{}, "non-table object(nil) with key 'upper'"},
		{"no io library", `io.write("x") return {status = "Healthy"}`, Health{}, "non-table object(nil) with key 'write'"},
		{"a status Argo CD does not know", `return {status = "Fine"}`, Health{Unknown, "Lua returned an invalid health status"}, ""},
		{"a result that is not a table", `return "Healthy"`, Health{}, "expect table output"},
		{"a script that never ends", `while true do end`, Health{}, "context deadline exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Run(c.script, obj)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestArgoCDConfigMapPatch checks that argocd-cm.yaml installs exactly the
// three health.lua files under the keys Argo CD reads, and that the three
// scripts are one script, so a fix reaches every kind.
func TestArgoCDConfigMapPatch(t *testing.T) {
	data, err := os.ReadFile("argocd-cm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" || cm.Namespace != "argocd" {
		t.Errorf("patch targets %s %s/%s, want ConfigMap argocd/argocd-cm", cm.Kind, cm.Namespace, cm.Name)
	}
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{
		"resource.customizations.health.idtenant.dev_API",
		"resource.customizations.health.idtenant.dev_Application",
		"resource.customizations.health.idtenant.dev_Tenant",
	}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Fatalf("argocd-cm keys %v, want %v", keys, want)
	}
	first, _ := Script(Kinds[0])
	for _, kind := range Kinds {
		script, err := Script(kind)
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["resource.customizations.health."+Group+"_"+kind] != script {
			t.Errorf("argocd-cm.yaml's script for %s differs from %s/%s/health.lua", kind, Group, kind)
		}
		if script != first {
			t.Errorf("%s/health.lua differs from %s/health.lua", kind, Kinds[0])
		}
	}
}
