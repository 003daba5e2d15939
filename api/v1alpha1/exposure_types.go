package v1alpha1

// ExposureSpec chooses how the issuer is reached from outside the cluster.
// TLS is terminated by the Gateway or the ingress controller; the issuer
// behind it speaks plain HTTP inside the cluster.
// +kubebuilder:validation:XValidation:rule="has(self.gateway) != has(self.ingress)",message="spec.exposure needs exactly one of gateway (an HTTPRoute attached to a Gateway) or ingress (an Ingress)"
type ExposureSpec struct {
	// gateway renders an HTTPRoute (gateway.networking.k8s.io/v1) named
	// <tenant>-issuer attached to this Gateway. The Gateway's listener
	// terminates TLS with its own certificate (cert-manager's Gateway
	// support can issue it); the route only matches the host and path.
	// +optional
	Gateway *GatewayExposure `json:"gateway,omitempty"`

	// ingress renders an Ingress (networking.k8s.io/v1) named
	// <tenant>-issuer.
	// +optional
	Ingress *IngressExposure `json:"ingress,omitempty"`
}

// GatewayExposure names the Gateway the issuer's HTTPRoute attaches to.
type GatewayExposure struct {
	// name of the Gateway.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Gateway; default the Tenant's. A Gateway in another
	// namespace must allow routes from the Tenant's namespace
	// (listeners[].allowedRoutes.namespaces), or it does not accept the
	// route and the Exposed condition says so.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// sectionName attaches to one listener of the Gateway (the https
	// one, typically); default every listener that allows the route.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SectionName string `json:"sectionName,omitempty"`
}

// IngressExposure configures the issuer's Ingress.
type IngressExposure struct {
	// className is the IngressClass, e.g. nginx.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClassName string `json:"className"`

	// tlsSecretName is the Secret (kubernetes.io/tls, in the Tenant's
	// namespace) with the certificate for the issuer URL's host. Default
	// <tenant>-issuer-tls. With cert-manager, add its annotation (e.g.
	// cert-manager.io/cluster-issuer) and it issues the certificate into
	// this Secret.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// annotations are copied onto the Ingress: your ingress controller's
	// (timeouts, rate limits), or cert-manager's ingress annotations.
	// Annotations whose key contains "snippet" (ingress-nginx's
	// configuration-snippet, server-snippet and the like) are refused:
	// they inject configuration into the ingress controller, which serves
	// every Ingress of the cluster.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.lowerAscii().contains('snippet'))",message="spec.exposure.ingress.annotations must not set *-snippet annotations: they inject configuration into the ingress controller that serves every Ingress of the cluster"
	Annotations map[string]string `json:"annotations,omitempty"`

	// certManager makes the operator create a cert-manager Certificate
	// (cert-manager.io/v1) named <tenant>-issuer for the issuer URL's host,
	// issued by this issuer into tlsSecretName. The Exposed condition waits
	// for it to be Ready. Needs cert-manager installed.
	// +optional
	CertManager *CertManagerTLS `json:"certManager,omitempty"`
}

// CertManagerTLS names the cert-manager issuer of the issuer's certificate.
type CertManagerTLS struct {
	// issuerRef is the cert-manager Issuer (in the Tenant's namespace) or
	// ClusterIssuer that signs the certificate. When the operator runs
	// with --allowed-cluster-issuers, a cluster-scoped issuer must be one
	// of those (Exposed is False, ClusterIssuerNotAllowed, otherwise).
	// +required
	IssuerRef CertManagerIssuerRef `json:"issuerRef"`
}

// CertManagerIssuerRef refers to a cert-manager Issuer or ClusterIssuer.
type CertManagerIssuerRef struct {
	// name of the Issuer or ClusterIssuer.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// kind is Issuer (default), ClusterIssuer, or an external issuer's
	// kind (with group), e.g. AWSPCAClusterIssuer.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Za-z0-9]*$`
	Kind string `json:"kind,omitempty"`

	// group of the issuer; default cert-manager.io. Set it for external
	// issuers (e.g. awspca.cert-manager.io).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group,omitempty"`
}
