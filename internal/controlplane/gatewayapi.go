package controlplane

import (
	"context"
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
	for _, name := range []string{"gateway.networking.k8s.io_gateways.yaml", "gateway.networking.k8s.io_httproutes.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("reading the Gateway API CRDs: %w", err)
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
		list, err := dc.ServerResourcesForGroupVersion("gateway.networking.k8s.io/v1")
		if err == nil {
			for _, r := range list.APIResources {
				if r.Kind == "HTTPRoute" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not serve HTTPRoutes 30 s after installing their CRD: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
