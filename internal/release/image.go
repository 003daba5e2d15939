// Package release builds what a cluster installs: the container image (without
// Docker), dist/install.yaml and the Helm chart's generated parts.
package release

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRoot is the user the image runs as: distroless' "nonroot", so the
// manager's securityContext (runAsNonRoot) and the issuer's are satisfied
// by the image itself.
const NonRoot = "65532:65532"

// ImageOptions says what to build.
type ImageOptions struct {
	// Source is the module root (where main.go is).
	Source string
	// Version is stamped into the image's labels and the binary
	// (idtenant version, idtenant_build_info).
	Version string
	// Arch is the GOARCH of the image; the machine's when empty.
	Arch string
	// Package is the main package built, relative to Source; "." (idtenant)
	// when empty.
	Package string
	// CACertificates is a PEM bundle copied to
	// /etc/ssl/certs/ca-certificates.crt, where Go looks for roots; the
	// build machine's when empty and present. The issuer needs roots to
	// reach upstream identity providers; the manager uses the cluster's CA.
	CACertificates string
}

// VersionVariable is the variable a release build stamps its version into.
const VersionVariable = "github.com/idtenant/idtenant/internal/version.Version"

// BuildImage compiles idtenant statically and puts it, alone, on an empty
// base: no shell, no package manager, nothing to exec but /idtenant. This is
// what the Dockerfile builds (there on distroless/static), made without a
// container runtime: none is available where idtenant is built and tested.
// The layer is reproducible: fixed timestamps and ownership.
func BuildImage(opts ImageOptions) (v1.Image, error) {
	arch := opts.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	pkg := opts.Package
	if pkg == "" {
		pkg = "."
	}
	work, err := os.MkdirTemp("", "idtenant-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "idtenant")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X "+VersionVariable+"="+opts.Version, "-o", bin, pkg) //nolint:noctx // a build runs to its end; make image or the test bounds it
	build.Dir = opts.Source
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	files := []imageFile{
		{path: "etc/", dir: true},
		{path: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{path: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{path: "idtenant", mode: 0o755, data: binary},
	}
	ca := opts.CACertificates
	if ca == "" {
		ca = "/etc/ssl/certs/ca-certificates.crt"
	}
	if pem, err := os.ReadFile(ca); err == nil {
		files = append(files, imageFile{path: "etc/ssl/", dir: true}, imageFile{path: "etc/ssl/certs/", dir: true},
			imageFile{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: pem})
	} else if opts.CACertificates != "" {
		return nil, fmt.Errorf("reading CA certificates: %w", err)
	}
	layerTar, err := tarOf(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cfg.Config.Entrypoint = []string{"/idtenant"}
	cfg.Config.Cmd = []string{"manager"}
	cfg.Config.User = NonRoot
	cfg.Config.WorkingDir = "/"
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   "idtenant",
		"org.opencontainers.image.version": opts.Version,
		"org.opencontainers.image.source":  "https://github.com/idtenant/idtenant",
	}
	return mutate.ConfigFile(img, cfg)
}

type imageFile struct {
	path string
	dir  bool
	mode int64
	data []byte
}

func tarOf(files []imageFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	for _, f := range files {
		h := &tar.Header{Name: f.path, ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, f.mode, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
