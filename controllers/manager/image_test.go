package manager

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestIssuerImageOf(t *testing.T) {
	const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pod := func(image, imageID string) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "sidecar", Image: "proxy:1"}, {Name: "manager", Image: image}}}}
		if imageID != "" {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "sidecar", ImageID: "docker.io/library/proxy@sha256:" + strings.Repeat("f", 64)},
				{Name: "manager", ImageID: imageID}}
		}
		return p
	}
	for _, c := range []struct {
		name, image, imageID, want string
	}{
		{"not started yet: the spec's image", "ghcr.io/idtenant/idtenant:v0.3.0", "", "ghcr.io/idtenant/idtenant:v0.3.0"},
		{"pinned to what containerd pulled", "ghcr.io/idtenant/idtenant:v0.3.0", "ghcr.io/idtenant/idtenant@sha256:" + digest, "ghcr.io/idtenant/idtenant@sha256:" + digest},
		{"docker's prefix", "idtenant:latest", "docker-pullable://idtenant@sha256:" + digest, "idtenant@sha256:" + digest},
		{"a registry port is not a tag", "registry.local:5000/team/idtenant:dev", "registry.local:5000/team/idtenant@sha256:" + digest, "registry.local:5000/team/idtenant@sha256:" + digest},
		{"the spec's repository, not the mirror's", "mirror.example/idtenant/idtenant:v1", "ghcr.io/idtenant/idtenant@sha256:" + digest, "mirror.example/idtenant/idtenant@sha256:" + digest},
		{"already a digest in the spec", "ghcr.io/idtenant/idtenant:v1@sha256:" + digest, "ghcr.io/idtenant/idtenant@sha256:" + digest, "ghcr.io/idtenant/idtenant@sha256:" + digest},
		{"an image ID that is no digest", "idtenant:v1", "sha256:" + digest[:12], "idtenant:v1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := IssuerImageOf(pod(c.image, c.imageID), "manager")
			if err != nil || got != c.want {
				t.Errorf("IssuerImageOf(%q, %q) = %q, %v; want %q", c.image, c.imageID, got, err, c.want)
			}
		})
	}
	if _, err := IssuerImageOf(&corev1.Pod{}, "manager"); err == nil || !strings.Contains(err.Error(), `no container "manager"`) {
		t.Errorf("a Pod without the container: %v", err)
	}
}
