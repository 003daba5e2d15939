// Command image builds idtenant's OCI images without a container runtime
// (internal/release.BuildIndex: one image per architecture, listed in an
// OCI image index) and writes them as an OCI image layout directory, plus a
// tarball of this machine's architecture that `docker load` / `podman load`
// accept. Push the index with `crane push bin/image/oci REF` or
// `skopeo copy --multi-arch all oci:bin/image/oci:REF docker://REF`.
//
//	go run ./hack/image -tag ghcr.io/idtenant/idtenant:v0.1.0 -out bin/image
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/idtenant/idtenant/internal/release"
)

func main() {
	tag := flag.String("tag", "idtenant:dev", "image reference written into the layout and the tarball")
	out := flag.String("out", "bin/image", "output directory: oci/ (OCI image layout) and idtenant.tar")
	version := flag.String("version", "dev", "version label")
	arches := flag.String("arch", strings.Join(release.Architectures, ","), "comma-separated GOARCH list, one image each")
	flag.Parse()
	var list []string
	for _, a := range strings.Split(*arches, ",") {
		list = append(list, strings.TrimSpace(a))
	}
	if err := run(*tag, *out, *version, list); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(tag, out, version string, arches []string) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("-tag %q: %w", tag, err)
	}
	idx, err := release.BuildIndex(release.ImageOptions{Source: ".", Version: version}, arches)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(out, "oci")); err != nil {
		return err
	}
	p, err := layout.Write(filepath.Join(out, "oci"), empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.String()})); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s (index: %s)\n  %s\n", ref, digest, strings.Join(arches, ", "), filepath.Join(out, "oci"))
	// docker load takes one image: this machine's, when it was built.
	manifest, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	tarPath := filepath.Join(out, "idtenant.tar")
	_ = os.Remove(tarPath)
	if !slices.Contains(arches, runtime.GOARCH) {
		fmt.Printf("  no %s: this machine's architecture, %s, was not built\n", tarPath, runtime.GOARCH)
	}
	for _, d := range manifest.Manifests {
		if d.Platform == nil || d.Platform.Architecture != runtime.GOARCH {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(tarPath, ref, img); err != nil {
			return err
		}
		fmt.Printf("  %s (linux/%s, for docker load)\n", tarPath, runtime.GOARCH)
	}
	return nil
}
