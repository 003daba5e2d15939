package release

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImageRunsAsNonRootWithNothingButTheBinary builds the image as CI
// does and checks what a cluster's admission and a security review look
// at: the entrypoint, a non-root user, a static binary that needs no shell
// or loader, no shell in the image, CA roots where Go finds them; then
// runs the binary taken out of the image.
func TestImageRunsAsNonRootWithNothingButTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	img, err := BuildImage(ImageOptions{Source: "../..", Version: "v0.0.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Config.Entrypoint, " "); got != "/idtenant" {
		t.Errorf("entrypoint %q, want /idtenant", got)
	}
	if cfg.Config.User != NonRoot || strings.HasPrefix(cfg.Config.User, "0") || cfg.Config.User == "root" {
		t.Errorf("user %q, want %s (non-root, numeric so runAsNonRoot can verify it)", cfg.Config.User, NonRoot)
	}
	if cfg.OS != "linux" || cfg.Config.Labels["org.opencontainers.image.version"] != "v0.0.0-test" {
		t.Errorf("os %q, labels %v", cfg.OS, cfg.Config.Labels)
	}
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if manifest.MediaType != "application/vnd.oci.image.manifest.v1+json" || manifest.Config.MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("media types %s / %s, want OCI", manifest.MediaType, manifest.Config.MediaType)
	}

	// The image's files, flattened as a runtime would see them.
	files := map[string]*tar.Header{}
	binary := filepath.Join(t.TempDir(), "idtenant")
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
		if h.Name == "idtenant" {
			out, err := os.OpenFile(binary, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}
	}
	if h := files["idtenant"]; h == nil || h.Mode&0o111 == 0 {
		t.Fatalf("no executable /idtenant in the image: %v", h)
	}
	for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"} {
		if files[shell] != nil {
			t.Errorf("the image has %s; nothing but /idtenant should be executable", shell)
		}
	}
	for name, h := range files {
		if name != "idtenant" && h.Typeflag == tar.TypeReg && h.Mode&0o111 != 0 {
			t.Errorf("%s is executable; only /idtenant should be", name)
		}
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil && files["etc/ssl/certs/ca-certificates.crt"] == nil {
		t.Error("no CA roots at /etc/ssl/certs/ca-certificates.crt: the issuer could not reach an upstream https provider")
	}

	// Static: no program interpreter (dynamic loader) to find in an image
	// that has none.
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/idtenant is dynamically linked; the image has no loader or libc")
		}
	}
	f.Close()
	// Dev-only code (the local control plane and the dev kubelet, which
	// runs arbitrary Pod commands as processes) is not in the shipped
	// binary. Function names stay in a stripped Go binary (stack traces
	// need them), so a package that is linked in leaves its import path.
	raw, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"internal/issuer.", "controllers/manager."} {
		if !bytes.Contains(raw, []byte("github.com/idtenant/idtenant/"+pkg)) {
			t.Errorf("the binary has no function of %s: this check cannot see packages", pkg)
		}
	}
	for _, pkg := range []string{"internal/dev.", "internal/controlplane."} {
		if bytes.Contains(raw, []byte("github.com/idtenant/idtenant/"+pkg)) {
			t.Errorf("the image's binary links %s, which is for make dev only (cmd/idtenant-dev)", pkg)
		}
	}
	// Nor the kubectl plugin's client libraries (cli-runtime, kustomize):
	// the plugin is a binary of its own.
	for _, pkg := range []string{"k8s.io/cli-runtime/", "sigs.k8s.io/kustomize/"} {
		if bytes.Contains(raw, []byte(pkg)) {
			t.Errorf("the image's binary links %s, which only the kubectl plugin (cmd/kubectl-idtenant) needs", pkg)
		}
	}
	out, err := exec.Command(binary, "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "usage: idtenant [manager|issuer]") {
		t.Errorf("the binary from the image does not run: %s", out)
	}
	if out, err := exec.Command(binary, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "idtenant v0.0.0-test, revision ") {
		t.Errorf("idtenant version of the image's binary: %s", out)
	}
}
