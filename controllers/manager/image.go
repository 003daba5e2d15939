package manager

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ManagerContainer is the name of the manager's container in its Pod.
const ManagerContainer = "manager"

// OwnImage is the image of the running manager, which the issuer
// Deployments run too (one binary, issuer mode): the manager reads its own
// Pod (POD_NAMESPACE and POD_NAME from the downward API; the downward API
// cannot expose an image) and returns what IssuerImageOf says. So upgrading
// the manager's image upgrades every issuer, and `--issuer-image` is only an
// override.
//
// The kubelet publishes the pulled digest (containerStatuses[].imageID) a
// moment after the container starts; OwnImage waits up to wait for it, so
// that one start does not pin the tag and the next the digest (each change
// of the image rolls every Tenant's issuer). After wait it takes the tag.
func OwnImage(ctx context.Context, cs kubernetes.Interface, namespace, name string, wait time.Duration) (string, error) {
	if namespace == "" || name == "" {
		return "", fmt.Errorf("not running in a Pod with POD_NAMESPACE and POD_NAME set (config/manager sets them); set --issuer-image")
	}
	deadline := time.Now().Add(wait)
	for {
		pod, err := cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("reading this manager's Pod %s/%s to find its image (set --issuer-image to skip): %w", namespace, name, err)
		}
		image, err := IssuerImageOf(pod, ManagerContainer)
		if err != nil || strings.Contains(image, "@sha256:") || !time.Now().Before(deadline) {
			return image, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// IssuerImageOf picks the image of container in pod, pinned to the digest
// the node actually pulled when the container status reports one: a
// mutable tag (latest, v1) then cannot give the issuers a different build
// from the manager's. The repository stays the one in the Pod spec, so a
// registry mirror or pull-through cache keeps working.
func IssuerImageOf(pod *corev1.Pod, container string) (string, error) {
	var image string
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			image = c.Image
		}
	}
	if image == "" {
		return "", fmt.Errorf("Pod %s/%s has no container %q; set --issuer-image", pod.Namespace, pod.Name, container)
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name != container {
			continue
		}
		if _, digest, ok := strings.Cut(st.ImageID, "@sha256:"); ok && len(digest) == 64 {
			return repository(image) + "@sha256:" + digest, nil
		}
	}
	return image, nil
}

// repository strips the tag and digest from an image reference:
// "registry:5000/team/idtenant:v1" is "registry:5000/team/idtenant".
func repository(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		ref = ref[:colon]
	}
	return ref
}
