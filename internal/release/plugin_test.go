package release

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestPluginArchiveInstallsWithKrew builds the plugin's release archive for
// this machine as make release-artifacts does, writes its krew manifest,
// and has krew itself (unmodified, from KREW) install the plugin from them
// into an empty krew root: krew checks the manifest, the archive's digest
// and the files it names. The installed command then runs.
func TestPluginArchiveInstallsWithKrew(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	krew := os.Getenv("KREW")
	if krew == "" {
		t.Skip("KREW is not set (make test builds bin/krew-<version> and sets it)")
	}
	out := t.TempDir()
	host := Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	archives, err := BuildPluginArchives(PluginOptions{Source: "../..", Version: "v0.0.0-test", Out: out, Platforms: []Platform{host}})
	if err != nil {
		t.Fatal(err)
	}
	if len(archives) != 1 || filepath.Base(archives[0].Path) != "kubectl-idtenant_v0.0.0-test_"+host.OS+"_"+host.Arch+".tar.gz" {
		t.Fatalf("archives %+v", archives)
	}
	data, err := os.ReadFile(archives[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != archives[0].SHA256 {
		t.Errorf("the reported SHA-256 is not the archive's")
	}
	manifest, err := KrewManifest("v0.0.0-test", "https://github.com/idtenant/idtenant/releases/download/v0.0.0-test", archives)
	if err != nil {
		t.Fatal(err)
	}
	manifestPath := filepath.Join(out, "idtenant.yaml")
	if err := os.WriteFile(manifestPath, manifest, 0o644); err != nil {
		t.Fatal(err)
	}

	root := filepath.Join(t.TempDir(), "krew")
	install := exec.Command(krew, "install", "--manifest="+manifestPath, "--archive="+archives[0].Path)
	install.Env = append(os.Environ(), "KREW_ROOT="+root, "KREW_NO_UPGRADE_CHECK=1", "HOME="+t.TempDir())
	if msg, err := install.CombinedOutput(); err != nil {
		t.Fatalf("krew install: %v\n%s", err, msg)
	}
	installed := filepath.Join(root, "bin", "kubectl-idtenant")
	got, err := exec.Command(installed, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(got), "idtenant v0.0.0-test, revision ") {
		t.Errorf("the plugin krew installed: %v: %s", err, got)
	}
	if _, err := os.Stat(filepath.Join(root, "store", "idtenant", "v0.0.0-test", "LICENSE")); err != nil {
		t.Errorf("the LICENSE was not installed with the plugin: %v", err)
	}
	// As a plugin it says so in its help.
	help, _ := exec.Command(installed, "explain", "--help").CombinedOutput()
	if !strings.Contains(string(help), "kubectl idtenant explain (tenant|application|api) NAME") || !strings.Contains(string(help), "--kubeconfig") {
		t.Errorf("kubectl idtenant explain --help:\n%s", help)
	}
	// The completion helper the README has users link: kubectl runs it
	// with the words after `kubectl idtenant`, and it offers the kinds.
	helper := filepath.Join(root, "bin", "kubectl_complete-idtenant")
	if err := os.Symlink(installed, helper); err != nil {
		t.Fatal(err)
	}
	offered, err := exec.Command(helper, "explain", "").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(offered), "tenant\napplication\napi\n:4\n") {
		t.Errorf("kubectl_complete-idtenant explain '': %v\n%s", err, offered)
	}
}

// TestKrewManifestListsEveryPlatform: one entry per archive, each selected
// by its os and arch labels, downloading its own archive with its digest,
// the Windows one naming its .exe.
func TestKrewManifestListsEveryPlatform(t *testing.T) {
	var archives []PluginArchive
	for i, p := range PluginPlatforms {
		bin := PluginBinary
		if p.OS == "windows" {
			bin += ".exe"
		}
		archives = append(archives, PluginArchive{Platform: p, Path: "/x/kubectl-idtenant_v1.2.3_" + p.OS + "_" + p.Arch + ".tar.gz",
			SHA256: strings.Repeat(string(rune('a'+i)), 64), Binary: bin})
	}
	data, err := KrewManifest("v1.2.3", "https://example.test/dl/", archives)
	if err != nil {
		t.Fatal(err)
	}
	var m krewPlugin
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Kind != "Plugin" || m.Metadata.Name != "idtenant" || m.Spec.Version != "v1.2.3" || len(m.Spec.ShortDescription) > 50 {
		t.Errorf("manifest header: %+v", m)
	}
	if len(m.Spec.Platforms) != len(PluginPlatforms) {
		t.Fatalf("%d platforms, want %d", len(m.Spec.Platforms), len(PluginPlatforms))
	}
	for _, p := range m.Spec.Platforms {
		l := p.Selector.MatchLabels
		want := "https://example.test/dl/kubectl-idtenant_v1.2.3_" + l.OS + "_" + l.Arch + ".tar.gz"
		if p.URI != want || len(p.SHA256) != 64 || (l.OS == "windows") != strings.HasSuffix(p.Bin, ".exe") || len(p.Files) != 2 {
			t.Errorf("platform %s: %+v", l, p)
		}
	}
	if sums := string(Checksums(archives)); !strings.Contains(sums, strings.Repeat("a", 64)+"  kubectl-idtenant_v1.2.3_linux_amd64.tar.gz\n") {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}
	if _, err := ParsePlatforms("linux"); err == nil {
		t.Error("a platform without an architecture was accepted")
	}
}
