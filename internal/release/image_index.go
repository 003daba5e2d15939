package release

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Architectures are those a release image is built for: the nodes of
// today's clusters (x86-64 and Arm servers: Graviton, Ampere, Apple
// silicon's local clusters).
var Architectures = []string{"amd64", "arm64"}

// BuildIndex builds one image per architecture (BuildImage, with
// opts.Arch set to each) and lists them in an OCI image index, so that a
// node pulls the image of its own architecture from one reference.
func BuildIndex(opts ImageOptions, arches []string) (v1.ImageIndex, error) {
	if len(arches) == 0 {
		return nil, fmt.Errorf("no architecture to build")
	}
	// Checked before any build: a mistake costs no minutes.
	seen := map[string]bool{}
	for _, arch := range arches {
		switch {
		case arch == "" || strings.TrimSpace(arch) != arch:
			return nil, fmt.Errorf("architecture %q: want a GOARCH such as amd64", arch)
		case seen[arch]:
			return nil, fmt.Errorf("architecture %s listed twice", arch)
		}
		seen[arch] = true
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range arches {
		o := opts
		o.Arch = arch
		img, err := BuildImage(o)
		if err != nil {
			return nil, fmt.Errorf("linux/%s: %w", arch, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return idx, nil
}
