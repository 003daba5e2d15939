package main

import (
	"strings"
	"testing"
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
