package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestTenantIssuerPods: a Tenant's spec.issuer reaches its issuer's Pods
// (resources, pull secrets, scheduling, annotations) through the real API
// server, which accepts the Deployment; removing it restores the defaults.
func TestTenantIssuerPods(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Spec.Issuer = &v1alpha1.IssuerPodSpec{
		Resources:        &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}},
		NodeSelector:     map[string]string{"pool": "identity"},
		Tolerations:      []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "identity", Effect: corev1.TaintEffectNoSchedule}},
		PodAnnotations:   map[string]string{"sidecar.istio.io/inject": "false"},
	}
	create(t, tenant)
	dep := &appsv1.Deployment{}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
		pod := dep.Spec.Template.Spec
		g.Expect(pod.Containers[0].Resources.Limits.Memory().String()).To(Equal("1Gi"))
		g.Expect(pod.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "GOMEMLIMIT", Value: "921MiB"}))
		g.Expect(pod.ImagePullSecrets).To(Equal([]corev1.LocalObjectReference{{Name: "regcred"}}))
		g.Expect(pod.NodeSelector).To(HaveKeyWithValue("pool", "identity"))
		g.Expect(pod.Tolerations).To(HaveLen(1))
		g.Expect(dep.Spec.Template.Annotations).To(HaveKeyWithValue("sidecar.istio.io/inject", "false"))
	})
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Issuer = nil })
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, dep)).To(Succeed())
		pod := dep.Spec.Template.Spec
		g.Expect(pod.Containers[0].Resources.Limits.Memory().String()).To(Equal("512Mi"))
		g.Expect(pod.NodeSelector).To(BeEmpty())
		g.Expect(pod.ImagePullSecrets).To(BeEmpty())
		g.Expect(dep.Spec.Template.Annotations).NotTo(HaveKey("sidecar.istio.io/inject"))
	})
}
