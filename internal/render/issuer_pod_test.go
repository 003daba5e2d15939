package render

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestIssuerPod: a Tenant's spec.issuer replaces the install's defaults
// field by field, and the Deployment carries the result: resources (with
// GOMEMLIMIT following the memory limit), pull secrets, scheduling, and
// annotations that cannot replace the operator's own.
func TestIssuerPod(t *testing.T) {
	defaults := v1alpha1.IssuerPodSpec{
		NodeSelector:      map[string]string{"pool": "identity"},
		PriorityClassName: "platform",
		ImagePullSecrets:  []corev1.LocalObjectReference{{Name: "regcred"}},
	}
	tenant := &v1alpha1.IssuerPodSpec{
		PriorityClassName: "storefront-critical",
		Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}},
		Tolerations:    []corev1.Toleration{{Key: "dedicated", Value: "identity", Effect: corev1.TaintEffectNoSchedule}},
		PodAnnotations: map[string]string{"sidecar.istio.io/inject": "false", AnnotationStateDatabase: "forged"},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
			WhenUnsatisfiable: corev1.DoNotSchedule}},
	}
	merged := IssuerPod(defaults, tenant)
	if merged.PriorityClassName != "storefront-critical" || merged.NodeSelector["pool"] != "identity" || merged.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("merged %+v: want the Tenant's priority class over the default, the defaults' node selector and pull secret", merged)
	}
	if got := IssuerPod(defaults, nil); !equality.Semantic.DeepEqual(got, defaults) {
		t.Errorf("no spec.issuer: %+v, want the defaults", got)
	}

	w := Workload{TenantName: "acme", Namespace: "identity", Image: "idtenant:1", Replicas: 2, Pod: merged, StateDatabase: "0123abcd"}
	tpl := w.Deployment().Spec.Template
	pod, c := tpl.Spec, tpl.Spec.Containers[0]
	if pod.PriorityClassName != "storefront-critical" || pod.NodeSelector["pool"] != "identity" || len(pod.Tolerations) != 1 ||
		len(pod.ImagePullSecrets) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != corev1.LabelTopologyZone {
		t.Errorf("pod spec: %+v", pod)
	}
	if c.Resources.Limits.Memory().String() != "2Gi" || c.Resources.Requests.Cpu().String() != "500m" {
		t.Errorf("resources %+v", c.Resources)
	}
	if env := envOf(c); env["GOMEMLIMIT"] != "1843MiB" {
		t.Errorf("GOMEMLIMIT %q, want 90%% of the 2Gi limit", env["GOMEMLIMIT"])
	}
	if tpl.Annotations["sidecar.istio.io/inject"] != "false" || tpl.Annotations[AnnotationStateDatabase] != "0123abcd" {
		t.Errorf("annotations %v: want the Tenant's added and the operator's own kept", tpl.Annotations)
	}
	// No memory limit: no GOMEMLIMIT (90% of nothing would starve it).
	w.Pod.Resources = &corev1.ResourceRequirements{}
	if env := envOf(w.Deployment().Spec.Template.Spec.Containers[0]); env["GOMEMLIMIT"] != "" {
		t.Errorf("GOMEMLIMIT %q without a memory limit", env["GOMEMLIMIT"])
	}
	// The defaults of a Workload without any: as before this field existed.
	plain := Workload{TenantName: "acme", Namespace: "identity", Image: "idtenant:1", Replicas: 2}.Deployment().Spec.Template
	if env := envOf(plain.Spec.Containers[0]); env["GOMEMLIMIT"] != "460MiB" || plain.Annotations != nil ||
		plain.Spec.TopologySpreadConstraints[0].TopologyKey != corev1.LabelHostname {
		t.Errorf("defaults changed: GOMEMLIMIT %q, annotations %v, spread %v", env["GOMEMLIMIT"], plain.Annotations, plain.Spec.TopologySpreadConstraints)
	}
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}
