package v1alpha1

import corev1 "k8s.io/api/core/v1"

// IssuerPodSpec adjusts the Pods that run a Tenant's issuer. Each field
// set here replaces the operator's default for it (the manager's
// --issuer-pod-defaults, the chart's issuerPods value); unset fields keep
// the default. Changing any of them rolls the issuer Pods, gracefully
// (nobody is logged out). The Pods stay under the namespace's Pod Security
// admission, and the issuer's container keeps its hardened security
// context whatever is set here.
type IssuerPodSpec struct {
	// resources of the issuer container. Default: requests 100m CPU and
	// 64Mi memory, a 512Mi memory limit. The Go runtime keeps its heap
	// under 90% of the memory limit (GOMEMLIMIT follows it). Raise the
	// memory limit for Tenants with many thousands of Applications or
	// users in the users Secret.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// imagePullSecrets name Secrets in the Tenant's namespace to pull the
	// issuer image with (a private registry).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// nodeSelector restricts the Pods to nodes with these labels.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations let the Pods run on tainted nodes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity of the Pods (node affinity, Pod affinity and
	// anti-affinity).
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// topologySpreadConstraints replace the default spread: replicas on
	// different nodes when the cluster can (maxSkew 1 over
	// kubernetes.io/hostname, ScheduleAnyway). Their labelSelector should
	// match the issuer's Pods: app.kubernetes.io/name=idtenant-issuer,
	// idtenant.dev/tenant=<tenant name>.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// priorityClassName of the Pods (a PriorityClass that exists).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// podAnnotations are added to the Pods (a service mesh's, a log
	// shipper's); they cannot replace the operator's own
	// (idtenant.dev/*).
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`
}
