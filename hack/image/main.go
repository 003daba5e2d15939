// Command image builds idtenant's OCI image without a container runtime
// (internal/release.BuildImage) and writes it as an OCI image layout
// directory and a tarball `docker load` / `podman load` accept. Push either
// with `crane push`, `skopeo copy oci:DIR docker://REF` or load and push.
//
//	go run ./hack/image -tag ghcr.io/idtenant/idtenant:v0.1.0 -out bin/image
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/idtenant/idtenant/internal/release"
)

func main() {
	tag := flag.String("tag", "idtenant:dev", "image reference written into the tarball")
	out := flag.String("out", "bin/image", "output directory: oci/ (OCI image layout) and idtenant.tar")
	version := flag.String("version", "dev", "version label")
	arch := flag.String("arch", "", "GOARCH of the image; this machine's when empty")
	flag.Parse()
	if err := run(*tag, *out, *version, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(tag, out, version, arch string) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("-tag %q: %w", tag, err)
	}
	img, err := release.BuildImage(release.ImageOptions{Source: ".", Version: version, Arch: arch})
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
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.String()})); err != nil {
		return err
	}
	if err := tarball.WriteToFile(filepath.Join(out, "idtenant.tar"), ref, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n  %s\n  %s\n", ref, digest, filepath.Join(out, "oci"), filepath.Join(out, "idtenant.tar"))
	return nil
}
