package render

import (
	"fmt"
	"net/url"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// IssuerServicePort is the issuer Service's HTTP port.
const IssuerServicePort = 80

// TLSSecretName is the default Secret of an Ingress' certificate.
func TLSSecretName(tenantName string) string { return tenantName + "-issuer-tls" }

// issuerHostPath splits the issuer URL into the host and the path prefix
// the route matches ("/" for an issuer at the root).
func issuerHostPath(issuerURL string) (host, path string, err error) {
	u, err := url.Parse(issuerURL)
	if err != nil || u.Hostname() == "" {
		return "", "", fmt.Errorf("spec.issuerURL %q has no host to route", issuerURL)
	}
	// Host names are case-insensitive; Gateway API and Ingress accept
	// lower case only. (Admission refuses ports and IP addresses here.)
	host = strings.ToLower(u.Hostname())
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return host, path, nil
}

// HTTPRoute routes the issuer URL's host and path, on the Gateway named by
// gw, to the issuer's Service. The path is a prefix and is not rewritten:
// the issuer serves under its URL's path itself.
func (w Workload) HTTPRoute(issuerURL string, gw v1alpha1.GatewayExposure) (*gatewayv1.HTTPRoute, error) {
	host, path, err := issuerHostPath(issuerURL)
	if err != nil {
		return nil, err
	}
	parent := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(gw.Name)}
	if gw.Namespace != "" {
		ns := gatewayv1.Namespace(gw.Namespace)
		parent.Namespace = &ns
	}
	if gw.SectionName != "" {
		section := gatewayv1.SectionName(gw.SectionName)
		parent.SectionName = &section
	}
	prefix := gatewayv1.PathMatchPathPrefix
	port := gatewayv1.PortNumber(IssuerServicePort)
	return &gatewayv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: w.meta(),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{parent}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(host)},
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &path}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(issuerconfig.IssuerName(w.TenantName)), Port: &port,
				}}}},
			}},
		},
	}, nil
}

// Ingress routes the issuer URL's host and path to the issuer's Service,
// with TLS from the named Secret.
func (w Workload) Ingress(issuerURL string, in v1alpha1.IngressExposure) (*networkingv1.Ingress, error) {
	host, path, err := issuerHostPath(issuerURL)
	if err != nil {
		return nil, err
	}
	secret := in.TLSSecretName
	if secret == "" {
		secret = TLSSecretName(w.TenantName)
	}
	meta := w.meta()
	if len(in.Annotations) > 0 {
		meta.Annotations = map[string]string{}
		for k, v := range in.Annotations {
			meta.Annotations[k] = v
		}
	}
	prefix := networkingv1.PathTypePrefix
	class := in.ClassName
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: secret}},
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: path, PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: issuerconfig.IssuerName(w.TenantName), Port: networkingv1.ServiceBackendPort{Number: IssuerServicePort},
					}},
				}}}},
			}},
		},
	}, nil
}

// CertificateGVK is cert-manager's Certificate; it is rendered as an
// unstructured object so that idtenant does not import cert-manager.
var CertificateGVK = schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}

// Certificate asks cert-manager for the issuer host's certificate, written
// into the Ingress' TLS Secret.
func (w Workload) Certificate(issuerURL string, in v1alpha1.IngressExposure) (*unstructured.Unstructured, error) {
	host, _, err := issuerHostPath(issuerURL)
	if err != nil {
		return nil, err
	}
	if in.CertManager == nil {
		return nil, fmt.Errorf("no spec.exposure.ingress.certManager")
	}
	secret := in.TLSSecretName
	if secret == "" {
		secret = TLSSecretName(w.TenantName)
	}
	ref := in.CertManager.IssuerRef
	kind, group := ref.Kind, ref.Group
	if kind == "" {
		kind = "Issuer"
	}
	if group == "" {
		group = "cert-manager.io"
	}
	cert := &unstructured.Unstructured{}
	cert.SetGroupVersionKind(CertificateGVK)
	meta := w.meta()
	cert.SetName(meta.Name)
	cert.SetNamespace(meta.Namespace)
	cert.SetLabels(meta.Labels)
	cert.Object["spec"] = map[string]any{
		"secretName": secret,
		"dnsNames":   []any{host},
		"issuerRef":  map[string]any{"name": ref.Name, "kind": kind, "group": group},
	}
	return cert, nil
}
