package release

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImageIndexHasOneImagePerArchitecture builds the index make image
// pushes, from a small program (idtenant itself is built for this machine
// by TestImageRunsAsNonRootWithNothingButTheBinary), and checks what a node
// of each architecture resolves: an OCI index listing linux/amd64 and
// linux/arm64, each pointing at an image whose config names that
// architecture and whose binary is compiled for that processor.
func TestImageIndexHasOneImagePerArchitecture(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles")
	}
	idx, err := BuildIndex(ImageOptions{Source: "../..", Package: "./internal/release/testdata/hello", Version: "v0.0.0-test"}, Architectures)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if manifest.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", manifest.MediaType, types.OCIImageIndex)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	if len(manifest.Manifests) != len(machines) {
		t.Fatalf("%d manifests, want one per architecture %v", len(manifest.Manifests), Architectures)
	}
	for _, d := range manifest.Manifests {
		if d.Platform == nil || d.Platform.OS != "linux" {
			t.Fatalf("manifest %s has platform %v, want linux/<arch>", d.Digest, d.Platform)
		}
		arch := d.Platform.Architecture
		want, ok := machines[arch]
		if !ok {
			t.Fatalf("unexpected architecture %q", arch)
		}
		delete(machines, arch)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != arch || cfg.OS != "linux" || cfg.Config.User != NonRoot {
			t.Errorf("%s: config says %s/%s user %q", arch, cfg.OS, cfg.Architecture, cfg.Config.User)
		}
		binary := fileOf(t, img, "idtenant")
		f, err := elf.NewFile(bytes.NewReader(binary))
		if err != nil {
			t.Fatalf("%s: /idtenant is not an ELF binary: %v", arch, err)
		}
		if f.Machine != want {
			t.Errorf("%s: /idtenant is built for %s, want %s", arch, f.Machine, want)
		}
	}

	for _, bad := range [][]string{{"amd64", "amd64"}, {"amd64", ""}, {" arm64"}, nil} {
		if _, err := BuildIndex(ImageOptions{Source: "../..", Package: "./internal/release/testdata/hello"}, bad); err == nil {
			t.Errorf("architectures %q were accepted", bad)
		}
	}
}

// fileOf returns one file of an image's flattened file system.
func fileOf(t *testing.T, img v1.Image, name string) []byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no %s in the image", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}
