package main

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// TestParseIssuerPodDefaults: --issuer-pod-defaults reads the fields of a
// Tenant's spec.issuer, as the chart writes them, and refuses a misspelt
// one instead of ignoring it.
func TestParseIssuerPodDefaults(t *testing.T) {
	spec, err := parseIssuerPodDefaults(`{"imagePullSecrets":[{"name":"regcred"}],"nodeSelector":{"pool":"identity"},"resources":{"limits":{"memory":"1Gi"}}}`)
	if err != nil || spec.NodeSelector["pool"] != "identity" || spec.ImagePullSecrets[0].Name != "regcred" || spec.Resources.Limits.Memory().String() != "1Gi" {
		t.Fatalf("parsed %+v, %v", spec, err)
	}
	if _, err := parseIssuerPodDefaults(`{"nodeSelectr":{"pool":"identity"}}`); err == nil || !strings.Contains(err.Error(), "nodeSelectr") {
		t.Errorf("a misspelt field: %v, want it named", err)
	}
	if spec, err := parseIssuerPodDefaults(""); err != nil || spec.NodeSelector != nil {
		t.Errorf("empty: %+v, %v", spec, err)
	}
}

// TestKubernetesToolsShareModuleVersions: hack/k8s-tools (kube-apiserver,
// etcd, kubectl, kube-controller-manager for the tests) requires the
// modules it shares with idtenant at idtenant's versions. A difference in
// one low module (golang.org/x/sys, say) gives every k8s.io package above
// it a second build, which a fresh CI machine pays in minutes.
func TestKubernetesToolsShareModuleVersions(t *testing.T) {
	ours, tools := readModFile(t, "go.mod"), readModFile(t, "hack/k8s-tools/go.mod")
	versions := map[string]string{}
	for _, r := range ours.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	replaced := map[string]bool{}
	for _, r := range tools.Replace {
		replaced[r.Old.Path] = true
	}
	for _, r := range tools.Require {
		if v, ok := versions[r.Mod.Path]; ok && v != r.Mod.Version && !replaced[r.Mod.Path] {
			t.Errorf("hack/k8s-tools requires %s %s, idtenant %s: run `go get %s@%s` in hack/k8s-tools (or bump idtenant's)", r.Mod.Path, r.Mod.Version, v, r.Mod.Path, v)
		}
	}
}

func readModFile(t *testing.T, path string) *modfile.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
