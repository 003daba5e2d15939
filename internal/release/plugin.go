package release

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Platform is an operating system and architecture the kubectl plugin is
// built for.
type Platform struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// PluginPlatforms are those a release archives the plugin for: where
// platform teams run kubectl.
var PluginPlatforms = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"},
}

// ParsePlatforms reads "linux/amd64,darwin/arm64".
func ParsePlatforms(list string) ([]Platform, error) {
	var out []Platform
	for _, p := range strings.Split(list, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || os == "" || arch == "" {
			return nil, fmt.Errorf("platform %q: want OS/ARCH, as linux/amd64", p)
		}
		out = append(out, Platform{OS: os, Arch: arch})
	}
	return out, nil
}

// PluginOptions says which plugin archives to build.
type PluginOptions struct {
	// Source is the module root; Package the plugin's main package
	// relative to it (./cmd/kubectl-idtenant when empty).
	Source, Package string
	// Version is stamped into the binary and the archive names.
	Version string
	// Out is the directory the archives are written to.
	Out       string
	Platforms []Platform
}

// PluginArchive is one platform's archive.
type PluginArchive struct {
	Platform Platform
	// Path is the archive file; SHA256 its hex digest.
	Path, SHA256 string
	// Binary is the plugin's file name inside the archive.
	Binary string
}

// PluginBinary is the plugin's name on PATH, as kubectl finds plugins.
const PluginBinary = "kubectl-idtenant"

// BuildPluginArchives compiles the plugin for each platform (static,
// -trimpath, stripped) and packs it with the LICENSE into
// kubectl-idtenant_<version>_<os>_<arch>.tar.gz: the layout krew and a
// person unpacking by hand both expect.
func BuildPluginArchives(opts PluginOptions) ([]PluginArchive, error) {
	pkg := opts.Package
	if pkg == "" {
		pkg = "./cmd/kubectl-idtenant"
	}
	license, err := os.ReadFile(filepath.Join(opts.Source, "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("the archives carry the LICENSE: %w", err)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "idtenant-plugin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var out []PluginArchive
	for _, p := range opts.Platforms {
		binary := PluginBinary
		if p.OS == "windows" {
			binary += ".exe"
		}
		bin := filepath.Join(work, p.OS+"-"+p.Arch, binary)
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X "+VersionVariable+"="+opts.Version, "-o", bin, pkg) //nolint:noctx // a build runs to its end; make or the test bounds it
		build.Dir = opts.Source
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
		if msg, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build for %s: %w\n%s", p, err, msg)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(opts.Out, fmt.Sprintf("%s_%s_%s_%s.tar.gz", PluginBinary, opts.Version, p.OS, p.Arch))
		sum, err := writeTarGz(path, []imageFile{{path: binary, mode: 0o755, data: data}, {path: "LICENSE", mode: 0o644, data: license}})
		if err != nil {
			return nil, err
		}
		out = append(out, PluginArchive{Platform: p, Path: path, SHA256: sum, Binary: binary})
	}
	return out, nil
}

// writeTarGz writes files as a gzip-compressed tar (tarOf: fixed times
// and owners, so the same build gives the same bytes) and returns its
// SHA-256.
func writeTarGz(path string, files []imageFile) (string, error) {
	tarData, err := tarOf(files)
	if err != nil {
		return "", err
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	zw := gzip.NewWriter(io.MultiWriter(f, h))
	_, err = zw.Write(tarData)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// krewPlugin is the krew plugin manifest
// (krew.googlecontainertools.github.com/v1alpha2 Plugin).
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string         `json:"version"`
		Homepage         string         `json:"homepage"`
		ShortDescription string         `json:"shortDescription"`
		Description      string         `json:"description"`
		Platforms        []krewPlatform `json:"platforms"`
	} `json:"spec"`
}

type krewPlatform struct {
	Selector struct {
		MatchLabels Platform `json:"matchLabels"`
	} `json:"selector"`
	URI    string     `json:"uri"`
	SHA256 string     `json:"sha256"`
	Bin    string     `json:"bin"`
	Files  []krewFile `json:"files"`
}

type krewFile struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// KrewManifest is the krew manifest (plugins/idtenant.yaml in a krew
// index) for archives published under urlBase (a release's download URL).
func KrewManifest(version, urlBase string, archives []PluginArchive) ([]byte, error) {
	if len(archives) == 0 {
		return nil, fmt.Errorf("no archive")
	}
	var m krewPlugin
	m.APIVersion, m.Kind, m.Metadata.Name = "krew.googlecontainertools.github.com/v1alpha2", "Plugin", "idtenant"
	m.Spec.Version = version
	m.Spec.Homepage = "https://github.com/idtenant/idtenant"
	m.Spec.ShortDescription = "Explain idtenant's token and session lifetimes"
	m.Spec.Description = `Reads the status of idtenant's Tenants, Applications and APIs and shows
every effective token and session lifetime, the setting that decided it,
clamps and advisories, which issuer replicas serve which configuration, and
a timeline of what a user who logs in now lives through. It writes nothing.

  kubectl idtenant explain application NAME -n NAMESPACE
  kubectl idtenant explain tenant NAME -n NAMESPACE -o yaml
  kubectl idtenant timeline application NAME -n NAMESPACE
`
	sorted := append([]PluginArchive(nil), archives...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Platform.String() < sorted[j].Platform.String() })
	for _, a := range sorted {
		var p krewPlatform
		p.Selector.MatchLabels = a.Platform
		p.URI = strings.TrimSuffix(urlBase, "/") + "/" + filepath.Base(a.Path)
		p.SHA256, p.Bin = a.SHA256, a.Binary
		p.Files = []krewFile{{From: a.Binary, To: "."}, {From: "LICENSE", To: "."}}
		m.Spec.Platforms = append(m.Spec.Platforms, p)
	}
	return yaml.Marshal(m)
}

// Checksums is a SHA256SUMS file for the archives, as sha256sum -c reads.
func Checksums(archives []PluginArchive) []byte {
	var b strings.Builder
	for _, a := range archives {
		fmt.Fprintf(&b, "%s  %s\n", a.SHA256, filepath.Base(a.Path))
	}
	return []byte(b.String())
}
