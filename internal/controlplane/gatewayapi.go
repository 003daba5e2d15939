package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// GatewayAPIModule is the Go module whose CRDs InstallGatewayAPI installs:
// the version idtenant's go.mod builds its HTTPRoutes with.
const GatewayAPIModule = "sigs.k8s.io/gateway-api"

// InstallGatewayAPI installs the Gateway API's standard Gateway and
// HTTPRoute CRDs, read from the module's source in the Go module cache (go
// list finds it, at go.mod's version), and waits until the API server
// serves HTTPRoutes. Tests call it before starting the manager, which
// watches HTTPRoutes only when they exist.
func InstallGatewayAPI(ctx context.Context, c client.Client, cfg *rest.Config) error {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", GatewayAPIModule).Output()
	if err != nil {
		return fmt.Errorf("locating %s (go list -m): %w", GatewayAPIModule, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	return installCRDs(ctx, c, cfg, dir, "gateway.networking.k8s.io/v1", "HTTPRoute",
		"gateway.networking.k8s.io_gateways.yaml", "gateway.networking.k8s.io_httproutes.yaml")
}

// CertManagerModule and CertManagerVersion: the cert-manager release whose
// Certificate CRD InstallCertManager installs.
const (
	CertManagerModule  = "github.com/cert-manager/cert-manager"
	CertManagerVersion = "v1.21.2"
)

// InstallCertManager installs cert-manager's Certificate CRD, exactly as
// cert-manager ships it (deploy/crds in its Go module, fetched from the
// module proxy into the module cache, ~4 MB; idtenant does not import it),
// and waits until the API server serves Certificates. No cert-manager
// controller runs: tests play it by writing status.
func InstallCertManager(ctx context.Context, c client.Client, cfg *rest.Config) error {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", CertManagerModule+"@"+CertManagerVersion)
	cmd.Dir = os.TempDir() // outside idtenant's module: go.mod and go.sum stay as they are
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("downloading %s@%s: %w", CertManagerModule, CertManagerVersion, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: no directory in %s", CertManagerModule, out)
	}
	return installCRDs(ctx, c, cfg, filepath.Join(mod.Dir, "deploy", "crds"), "cert-manager.io/v1", "Certificate",
		"cert-manager.io_certificates.yaml")
}

// installCRDs applies the CRD files in dir and waits until groupVersion's
// kind is served.
func installCRDs(ctx context.Context, c client.Client, cfg *rest.Config, dir, groupVersion, kind string, files ...string) error {
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("reading CRDs: %w", err)
		}
		if _, err := Apply(ctx, c, data); err != nil {
			return fmt.Errorf("installing %s: %w", name, err)
		}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := dc.ServerResourcesForGroupVersion(groupVersion)
		if err == nil {
			for _, r := range list.APIResources {
				if r.Kind == kind {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not serve %s %s 30 s after installing its CRD: %w", groupVersion, kind, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
