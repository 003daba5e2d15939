package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/render"
)

// routeStatus writes what a Gateway's controller would write on the
// HTTPRoute (no Gateway controller runs in these tests).
func routeStatus(t *testing.T, route *gatewayv1.HTTPRoute, accepted, resolved metav1.ConditionStatus, reason, message string) {
	t.Helper()
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(route), route)).To(Succeed())
		route.Status.Parents = []gatewayv1.RouteParentStatus{{
			ParentRef:      route.Spec.ParentRefs[0], // echoed as the route names it
			ControllerName: "example.com/gateway-controller",
			Conditions: []metav1.Condition{
				{Type: "Accepted", Status: accepted, Reason: reason, Message: message, ObservedGeneration: route.Generation, LastTransitionTime: metav1.Now()},
				{Type: "ResolvedRefs", Status: resolved, Reason: "ResolvedRefs", Message: "Resolved all the Object references.", ObservedGeneration: route.Generation, LastTransitionTime: metav1.Now()},
			},
		}}
		g.Expect(k8s.Status().Update(context.Background(), route)).To(Succeed())
	})
}

func exposed(g Gomega, tenant *v1alpha1.Tenant) metav1.Condition {
	return condition(g, tenant, v1alpha1.ConditionExposed)
}

// TestExposureThroughAGateway: spec.exposure.gateway renders an HTTPRoute
// for the issuer URL's host and path to the issuer Service, and the
// Tenant's Exposed condition follows the Gateway's verdict on it.
func TestExposureThroughAGateway(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Spec.IssuerURL = "https://login.acme.example/" + ns
	tenant.Spec.Exposure = &v1alpha1.ExposureSpec{Gateway: &v1alpha1.GatewayExposure{Name: "edge", SectionName: "https"}}
	create(t, tenant)

	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-issuer"}}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(route), route)).To(Succeed())
	})
	g := NewWithT(t)
	g.Expect(metav1.IsControlledBy(route, tenant) || route.OwnerReferences[0].Name == "acme").To(BeTrue())
	g.Expect(route.Spec.Hostnames).To(Equal([]gatewayv1.Hostname{"login.acme.example"}))
	g.Expect(route.Spec.ParentRefs).To(HaveLen(1))
	g.Expect(string(route.Spec.ParentRefs[0].Name)).To(Equal("edge"))
	g.Expect(string(*route.Spec.ParentRefs[0].SectionName)).To(Equal("https"))
	rule := route.Spec.Rules[0]
	g.Expect(*rule.Matches[0].Path.Value).To(Equal("/" + ns))
	g.Expect(*rule.Matches[0].Path.Type).To(Equal(gatewayv1.PathMatchPathPrefix))
	g.Expect(string(rule.BackendRefs[0].Name)).To(Equal("acme-issuer"))
	g.Expect(*rule.BackendRefs[0].Port).To(Equal(int32(80)))

	// No Gateway controller has answered yet.
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionUnknown))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonWaitingForController))
		g.Expect(c.Message).To(ContainSubstring("Gateway " + ns + "/edge"))
	})
	routeStatus(t, route, metav1.ConditionFalse, metav1.ConditionTrue, "NotAllowedByListeners", "No listener allows routes from namespace "+ns+".")
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonRouteNotAccepted))
		g.Expect(c.Message).To(ContainSubstring("did not accept HTTPRoute acme-issuer (NotAllowedByListeners): No listener allows routes from namespace " + ns))
	})
	routeStatus(t, route, metav1.ConditionTrue, metav1.ConditionTrue, "Accepted", "Route is accepted.")
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Message).To(ContainSubstring("routes https://login.acme.example/" + ns + " to the issuer"))
	})

	// Switching to an Ingress removes the route.
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Exposure = &v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx"}}
	})
	eventually(t, func(g Gomega) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(route), &gatewayv1.HTTPRoute{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the HTTPRoute is deleted: %v", err)
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, &networkingv1.Ingress{})).To(Succeed())
	})
}

// TestExposureThroughAnIngress: spec.exposure.ingress renders an Ingress
// with TLS for the issuer host, the annotations asked for (cert-manager's),
// and Exposed follows its address; removing spec.exposure removes it.
func TestExposureThroughAnIngress(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	// Issuer URLs are unique across Tenants: a host of its own.
	host := "id-" + ns + ".acme.example"
	tenant.Spec.IssuerURL = "https://" + host
	tenant.Spec.Exposure = &v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx",
		Annotations: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt"}}}
	create(t, tenant)

	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-issuer"}}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ing), ing)).To(Succeed())
	})
	g := NewWithT(t)
	g.Expect(*ing.Spec.IngressClassName).To(Equal("nginx"))
	g.Expect(ing.Annotations).To(HaveKeyWithValue("cert-manager.io/cluster-issuer", "letsencrypt"))
	g.Expect(ing.Spec.TLS).To(Equal([]networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "acme-issuer-tls"}}))
	g.Expect(ing.Spec.Rules[0].Host).To(Equal(host))
	path := ing.Spec.Rules[0].HTTP.Paths[0]
	g.Expect(path.Path).To(Equal("/"))
	g.Expect(path.Backend.Service.Name).To(Equal("acme-issuer"))

	eventually(t, func(g Gomega) {
		g.Expect(exposed(g, tenant).Reason).To(Equal(v1alpha1.ReasonWaitingForController))
	})
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ing), ing)).To(Succeed())
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.7"}}
		g.Expect(k8s.Status().Update(ctx, ing)).To(Succeed())
	})
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonAddressAssigned))
		g.Expect(c.Message).To(ContainSubstring("serves https://" + host + " at 203.0.113.7"))
	})

	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Exposure = nil })
	eventually(t, func(g Gomega) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(ing), &networkingv1.Ingress{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the Ingress is deleted: %v", err)
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
		for _, c := range tenant.Status.Conditions {
			g.Expect(c.Type).NotTo(Equal(v1alpha1.ConditionExposed), "no Exposed condition without spec.exposure")
		}
	})
}

// TestExposureAdmission: exposure needs an https issuer URL and exactly
// one of gateway or ingress.
func TestExposureAdmission(t *testing.T) {
	ns := newNamespace(t, nil)
	for name, c := range map[string]struct {
		url  string
		exp  v1alpha1.ExposureSpec
		want string
	}{
		"http":    {"http://127.0.0.1:9400", v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx"}}, "spec.issuerURL must be an https URL"},
		"both":    {"https://id.acme.example", v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx"}, Gateway: &v1alpha1.GatewayExposure{Name: "edge"}}, "exactly one of gateway"},
		"neither": {"https://id.acme.example", v1alpha1.ExposureSpec{}, "exactly one of gateway"},
		"port":    {"https://id.acme.example:8443", v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx"}}, "must name a host (not an IP address) and no port"},
		"ip":      {"https://10.0.0.7/acme", v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx"}}, "must name a host (not an IP address) and no port"},
		// Security review N7: snippets configure the whole ingress controller.
		"snippet": {"https://id.acme.example", v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx",
			Annotations: map[string]string{"nginx.ingress.kubernetes.io/Server-Snippet": "location /x { proxy_pass http://10.0.0.1; }"}}}, "must not set *-snippet annotations"},
	} {
		tenant := validTenant(ns)
		tenant.Name = name
		tenant.Spec.IssuerURL = c.url
		tenant.Spec.Exposure = &c.exp
		err := k8s.Create(context.Background(), tenant)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
}

// TestExposureWithACertManagerCertificate: with CertManager the operator
// asks cert-manager for the issuer host's certificate (a real
// certificates.cert-manager.io CRD, no cert-manager running: the test
// writes its status), and Exposed waits for it.
func TestExposureWithACertManagerCertificate(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	host := "login-" + ns + ".acme.example"
	tenant.Spec.IssuerURL = "https://" + host
	tenant.Spec.Exposure = &v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx", TLSSecretName: "login-tls",
		CertManager: &v1alpha1.CertManagerTLS{IssuerRef: v1alpha1.CertManagerIssuerRef{Name: "letsencrypt", Kind: "ClusterIssuer"}}}}
	create(t, tenant)

	cert := &unstructured.Unstructured{}
	cert.SetGroupVersionKind(render.CertificateGVK)
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, cert)).To(Succeed())
	})
	g := NewWithT(t)
	spec, _, _ := unstructured.NestedMap(cert.Object, "spec")
	g.Expect(spec).To(Equal(map[string]any{"secretName": "login-tls", "dnsNames": []any{host},
		"issuerRef": map[string]any{"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}}))
	g.Expect(cert.GetOwnerReferences()).To(HaveLen(1))
	ing := &networkingv1.Ingress{}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, ing)).To(Succeed())
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{Hostname: "lb.example.net"}}
		g.Expect(k8s.Status().Update(ctx, ing)).To(Succeed())
	})
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonCertificateNotReady))
		g.Expect(c.Message).To(ContainSubstring("waiting for cert-manager to issue Certificate acme-issuer"))
	})
	setReady := func(status, reason, message string) {
		eventually(t, func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(cert), cert)).To(Succeed())
			g.Expect(unstructured.SetNestedSlice(cert.Object, []any{map[string]any{"type": "Ready", "status": status, "reason": reason,
				"message": message, "lastTransitionTime": metav1.Now().UTC().Format("2006-01-02T15:04:05Z")}}, "status", "conditions")).To(Succeed())
			g.Expect(k8s.Status().Update(ctx, cert)).To(Succeed())
		})
	}
	setReady("False", "DoesNotExist", "Issuing certificate as Secret does not exist")
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(ContainSubstring("Certificate acme-issuer is not Ready (DoesNotExist): Issuing certificate as Secret does not exist"))
	})
	setReady("True", "Ready", "Certificate is up to date and has not expired")
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Message).To(ContainSubstring("at lb.example.net"))
	})

	// Without CertManager the Certificate goes; the Ingress stays.
	update(t, tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Exposure.Ingress.CertManager = nil })
	eventually(t, func(g Gomega) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(cert), certificateObject())
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the Certificate is deleted: %v", err)
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ing), &networkingv1.Ingress{})).To(Succeed())
	})
}

// TestExposureClusterIssuerAllowList (security review N7): with
// --allowed-cluster-issuers (here: letsencrypt), a Tenant naming another
// ClusterIssuer, which would sign for any host, gets no Certificate and an
// Exposed condition that says why; a namespaced Issuer is the Tenant
// namespace's own business and stays allowed.
func TestExposureClusterIssuerAllowList(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Spec.IssuerURL = "https://login-" + ns + ".acme.example"
	tenant.Spec.Exposure = &v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx",
		CertManager: &v1alpha1.CertManagerTLS{IssuerRef: v1alpha1.CertManagerIssuerRef{Name: "internal-root-ca", Kind: "ClusterIssuer"}}}}
	create(t, tenant)
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonClusterIssuerNotAllowed))
		g.Expect(c.Message).To(ContainSubstring(`ClusterIssuer "internal-root-ca"`))
	})
	err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, certificateObject())
	if !apierrors.IsNotFound(err) {
		t.Errorf("a Certificate from a ClusterIssuer not allowed: %v", err)
	}
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Exposure.Ingress.CertManager.IssuerRef = v1alpha1.CertManagerIssuerRef{Name: "team-ca", Kind: "Issuer"}
	})
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, certificateObject())).To(Succeed(), "a namespaced Issuer is allowed")
	})
}

// TestExposureIngressAnnotationAllowList (security review N7): with
// --allowed-ingress-annotations, an annotation outside the list leaves the
// Ingress as it was (what serves keeps serving) and the Exposed condition
// names it; once removed, the Ingress follows the spec again.
func TestExposureIngressAnnotationAllowList(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	tenant := validTenant(ns)
	tenant.Spec.IssuerURL = "https://login-" + ns + ".acme.example"
	tenant.Spec.Exposure = &v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx",
		Annotations: map[string]string{"nginx.ingress.kubernetes.io/proxy-read-timeout": "30"}}}
	create(t, tenant)
	ing := &networkingv1.Ingress{}
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, ing)).To(Succeed())
		g.Expect(ing.Annotations).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/proxy-read-timeout", "30"))
	})
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Exposure.Ingress.Annotations = map[string]string{"nginx.ingress.kubernetes.io/proxy-read-timeout": "60",
			"nginx.ingress.kubernetes.io/auth-url": "http://10.0.0.1/steal", "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0"}
	})
	eventually(t, func(g Gomega) {
		c := exposed(g, tenant)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonIngressAnnotationNotAllowed))
		g.Expect(c.Message).To(ContainSubstring("nginx.ingress.kubernetes.io/auth-url, nginx.ingress.kubernetes.io/whitelist-source-range"))
	})
	g := NewWithT(t)
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, ing)).To(Succeed())
	g.Expect(ing.Annotations).NotTo(HaveKey("nginx.ingress.kubernetes.io/auth-url"))
	g.Expect(ing.Annotations).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/proxy-read-timeout", "30"), "the Ingress is left as it was")
	update(t, tenant, func(tn *v1alpha1.Tenant) {
		tn.Spec.Exposure.Ingress.Annotations = map[string]string{"nginx.ingress.kubernetes.io/proxy-read-timeout": "60"}
	})
	eventually(t, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-issuer"}, ing)).To(Succeed())
		g.Expect(ing.Annotations).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/proxy-read-timeout", "60"))
		g.Expect(exposed(g, tenant).Reason).NotTo(Equal(v1alpha1.ReasonIngressAnnotationNotAllowed))
	})
}

func certificateObject() *unstructured.Unstructured {
	c := &unstructured.Unstructured{}
	c.SetGroupVersionKind(render.CertificateGVK)
	return c
}

// TestExposureNeverTakesAnotherTenantsURL: a Tenant whose issuer URL an
// older Tenant already uses routes nothing there (a Gateway prefers the
// older of two equal routes, which could be ours), and says why.
func TestExposureNeverTakesAnotherTenantsURL(t *testing.T) {
	ctx := context.Background()
	url := "https://shared-" + newNamespace(t, nil) + ".acme.example"
	older := validTenant(newNamespace(t, nil))
	older.Spec.IssuerURL = url
	create(t, older)
	expectReady(t, older)
	// Creation times have a resolution of one second, and of two Tenants
	// created in the same second the one whose key sorts first counts as
	// older: make sure the younger one is younger.
	time.Sleep(time.Until(older.CreationTimestamp.Add(time.Second)))
	younger := validTenant(newNamespace(t, nil))
	younger.Spec.IssuerURL = url
	younger.Spec.Exposure = &v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx"}}
	create(t, younger)
	eventually(t, func(g Gomega) {
		c := exposed(g, younger)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonIssuerURLConflict))
		g.Expect(c.Message).To(HavePrefix("not routed: "))
	})
	err := k8s.Get(ctx, client.ObjectKey{Namespace: younger.Namespace, Name: "acme-issuer"}, &networkingv1.Ingress{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the younger Tenant rendered an Ingress for a URL it does not own: %v", err)
	}
}
