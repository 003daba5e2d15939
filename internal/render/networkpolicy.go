package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// NetworkPolicy admits to the issuer's Pods only what they serve (security
// review N15): their http port from anywhere (the ingress controller, the
// Gateway, in-cluster clients such as a kube-apiserver fetching keys) and
// their metrics port only from the namespaces metricsFrom selects (where
// Prometheus runs). Egress is left open: an issuer reaches the API server
// and its connections' upstreams, whose addresses the cluster knows
// better than the operator. nil when metricsFrom is nil (the operator
// renders no NetworkPolicy: --issuer-metrics-from not set).
func (w Workload) NetworkPolicy(metricsFrom *metav1.LabelSelector) *networkingv1.NetworkPolicy {
	if metricsFrom == nil {
		return nil
	}
	tcp := corev1.ProtocolTCP
	http, metrics := intstr.FromString("http"), intstr.FromString("metrics")
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: w.meta(),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: w.selector()},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{{Port: &http, Protocol: &tcp}}},
				{Ports: []networkingv1.NetworkPolicyPort{{Port: &metrics, Protocol: &tcp}},
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: metricsFrom.DeepCopy()}}},
			},
		},
	}
}
