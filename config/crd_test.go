package config

import (
	"io/fs"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestEveryFieldIsDocumented walks the generated CRD schemas: every spec and
// status field must carry a description, because that text is what
// `kubectl explain` shows and the only documentation most users read.
func TestEveryFieldIsDocumented(t *testing.T) {
	files, err := fs.Glob(CRDs, "crd/bases/*.yaml")
	// Tenant, Application, API, and the issuer's five state records.
	if err != nil || len(files) != 8 {
		t.Fatalf("want 8 CRDs, got %v (%v)", files, err)
	}
	for _, f := range files {
		data, _ := CRDs.ReadFile(f)
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		for _, top := range []string{"spec", "status"} {
			if _, ok := schema.Properties[top]; !ok {
				continue // state records have no status
			}
			var missing []string
			walk(top, schema.Properties[top], &missing)
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("%s: fields without a description:\n  %s", crd.Name, strings.Join(missing, "\n  "))
			}
		}
	}
}

func walk(path string, s apiextensionsv1.JSONSchemaProps, missing *[]string) {
	// Scalar list items are described by their list.
	scalarItem := strings.HasSuffix(path, "[]") && s.Type != "object"
	if strings.TrimSpace(s.Description) == "" && !scalarItem {
		*missing = append(*missing, path)
	}
	for name, p := range s.Properties {
		// metav1.Condition and LabelSelector document themselves upstream.
		if strings.HasSuffix(path, ".conditions[]") || strings.Contains(path, ".selector") {
			continue
		}
		walk(path+"."+name, p, missing)
	}
	if s.Items != nil && s.Items.Schema != nil {
		walk(path+"[]", *s.Items.Schema, missing)
	}
}

// TestLifetimeDocsNameTheProductSettings checks the explain text answers the
// question a confused user asks: which product setting is this?
func TestLifetimeDocsNameTheProductSettings(t *testing.T) {
	for file, wants := range map[string][]string{
		"crd/bases/idtenant.dev_applications.yaml": {"JWT Expiration", "Default 10h", "1m to 720h"},
		"crd/bases/idtenant.dev_apis.yaml":         {"Token Expiration For Browser Flows", "Access Token Lifespan", "Default 24h"},
		"crd/bases/idtenant.dev_tenants.yaml":      {"Require log in after", "SSO Session Idle", "Inactivity timeout", "Default 72h"},
	} {
		data, _ := CRDs.ReadFile(file)
		for _, w := range wants {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s: documentation lacks %q", file, w)
			}
		}
	}
}
