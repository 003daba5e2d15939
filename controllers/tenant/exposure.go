package tenant

import (
	"context"
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/render"
)

// exposureObservation is the Tenant's Exposed condition.
type exposureObservation struct {
	status          metav1.ConditionStatus
	reason, message string
}

// certificate is an empty cert-manager Certificate, for reads and watches.
func certificate() *unstructured.Unstructured {
	c := &unstructured.Unstructured{}
	c.SetGroupVersionKind(render.CertificateGVK)
	return c
}

// applyExposure renders spec.exposure (an HTTPRoute or an Ingress for the
// issuer URL), removes the one no longer asked for, and reads back what the
// Gateway's or ingress controller said about it. An object the API server
// refuses (a host a Gateway cannot route) becomes the Exposed condition,
// not a failed reconcile, so the issuer's own status keeps being observed.
func (r *TenantReconciler) applyExposure(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	err := r.exposeIssuer(ctx, tenant, obs)
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		obs.exposure = &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonExposureInvalid,
			message: fmt.Sprintf("the API server refused the issuer's route for %s: %v", tenant.Spec.IssuerURL, err)}
		return nil
	}
	return err
}

func (r *TenantReconciler) exposeIssuer(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	exp := tenant.Spec.Exposure
	if exp != nil && obs.issuerURLProblem != nil {
		// Another, older Tenant owns this URL: routing it here would take
		// its users (a Gateway prefers the oldest of two equal routes, and
		// ours may be the older object). What exists stays as it was.
		obs.exposure = &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonIssuerURLConflict,
			message: "not routed: " + obs.issuerURLProblem.Message}
		return nil
	}
	w := render.Workload{TenantName: tenant.Name, Namespace: tenant.Namespace}
	key := client.ObjectKey{Namespace: tenant.Namespace, Name: issuerconfig.IssuerName(tenant.Name)}
	if r.GatewayAPI && (exp == nil || exp.Gateway == nil) {
		if err := r.deleteOwned(ctx, tenant, key, &gatewayv1.HTTPRoute{}); err != nil {
			return err
		}
	}
	if exp == nil || exp.Ingress == nil {
		if err := r.deleteOwned(ctx, tenant, key, &networkingv1.Ingress{}); err != nil {
			return err
		}
	}
	if r.CertManager && (exp == nil || exp.Ingress == nil || exp.Ingress.CertManager == nil) {
		if err := r.deleteOwned(ctx, tenant, key, certificate()); err != nil {
			return err
		}
	}
	switch {
	case exp == nil:
		obs.exposure = nil
	case exp.Gateway != nil:
		if !r.GatewayAPI {
			obs.exposure = &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonGatewayAPIMissing,
				message: "spec.exposure.gateway needs the Gateway API (HTTPRoute, gateway.networking.k8s.io/v1), which this cluster does not serve; install its CRDs and restart the operator, or use spec.exposure.ingress"}
			return nil
		}
		route, err := w.HTTPRoute(tenant.Spec.IssuerURL, *exp.Gateway)
		current := &gatewayv1.HTTPRoute{}
		if err := r.applyAndRead(ctx, tenant, route, err, current); err != nil {
			return err
		}
		obs.exposure = routeExposure(current, tenant.Namespace, *exp.Gateway, tenant.Spec.IssuerURL)
	case exp.Ingress != nil:
		if refused := r.refusedIngressAnnotations(exp.Ingress.Annotations); len(refused) > 0 {
			// The Ingress is left as it was: what serves keeps serving.
			obs.exposure = &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonIngressAnnotationNotAllowed,
				message: fmt.Sprintf("spec.exposure.ingress.annotations sets %s, which the operator's --allowed-ingress-annotations (%s) does not allow: the ingress controller serves every Ingress of the cluster, so the platform team chooses which of its settings Tenants may use; the Ingress is not updated",
					strings.Join(refused, ", "), strings.Join(r.AllowedIngressAnnotations, ", "))}
			return nil
		}
		ing, err := w.Ingress(tenant.Spec.IssuerURL, *exp.Ingress)
		current := &networkingv1.Ingress{}
		if err := r.applyAndRead(ctx, tenant, ing, err, current); err != nil {
			return err
		}
		obs.exposure = ingressExposure(current, tenant.Spec.IssuerURL)
		if cm := exp.Ingress.CertManager; cm != nil && !r.clusterIssuerAllowed(cm.IssuerRef) {
			obs.exposure = &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonClusterIssuerNotAllowed,
				message: fmt.Sprintf("spec.exposure.ingress.certManager.issuerRef names %s %q, which the operator's --allowed-cluster-issuers (%s) does not list: a cluster-scoped issuer signs for any host, so the platform team chooses which ones Tenants may use; no Certificate is requested",
					cm.IssuerRef.Kind, cm.IssuerRef.Name, strings.Join(r.AllowedClusterIssuers, ", "))}
			return r.deleteOwned(ctx, tenant, key, certificate())
		}
		if exp.Ingress.CertManager != nil {
			cert, err := r.applyCertificate(ctx, tenant, w, *exp.Ingress)
			if err != nil {
				return err
			}
			if problem := certificateProblem(cert, r.CertManager); problem != nil && obs.exposure.status != metav1.ConditionFalse {
				obs.exposure = problem
			}
		}
	}
	return nil
}

// applyAndRead applies rendered (unless rendering failed with renderErr),
// labelled and owned as the Tenant's, and reads it back from the cache into
// current, where its controller's status is (empty when just created).
func (r *TenantReconciler) applyAndRead(ctx context.Context, tenant *v1alpha1.Tenant, rendered client.Object, renderErr error, current client.Object) error {
	if renderErr != nil {
		return renderErr
	}
	rendered.SetLabels(mergeLabels(rendered.GetLabels(), ownedLabels(tenant)))
	if err := r.apply(ctx, tenant, rendered); err != nil {
		return err
	}
	return client.IgnoreNotFound(r.Get(ctx, client.ObjectKeyFromObject(rendered), current))
}

// applyCertificate asks cert-manager for the Ingress' certificate and
// returns the Certificate as cached (nil when cert-manager is missing).
func (r *TenantReconciler) applyCertificate(ctx context.Context, tenant *v1alpha1.Tenant, w render.Workload, in v1alpha1.IngressExposure) (*unstructured.Unstructured, error) {
	if !r.CertManager {
		return nil, nil
	}
	cert, err := w.Certificate(tenant.Spec.IssuerURL, in)
	current := certificate()
	if err := r.applyAndRead(ctx, tenant, cert, err, current); err != nil {
		return nil, err
	}
	if current.GetName() == "" {
		return cert, nil // just created; not in the cache yet
	}
	return current, nil
}

// certificateProblem is why the Ingress cannot serve TLS yet: cert-manager
// missing, or its Certificate not Ready (with cert-manager's reason).
func certificateProblem(cert *unstructured.Unstructured, installed bool) *exposureObservation {
	if !installed {
		return &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonCertManagerMissing,
			message: "spec.exposure.ingress.certManager needs cert-manager (certificates.cert-manager.io/v1), which this cluster does not serve; install it and restart the operator, or provide the TLS Secret yourself"}
	}
	conds, _, _ := unstructured.NestedSlice(cert.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Ready" {
			continue
		}
		if gen, ok := m["observedGeneration"].(int64); ok && gen < cert.GetGeneration() {
			break // cert-manager has not looked at this version (a new host) yet
		}
		if m["status"] == "True" {
			return nil
		}
		return &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonCertificateNotReady,
			message: fmt.Sprintf("cert-manager Certificate %s is not Ready (%v): %v", cert.GetName(), m["reason"], m["message"])}
	}
	return &exposureObservation{status: metav1.ConditionUnknown, reason: v1alpha1.ReasonCertificateNotReady,
		message: fmt.Sprintf("waiting for cert-manager to issue Certificate %s", cert.GetName())}
}

// deleteOwned deletes the object at key when this Tenant controls it (it
// is cached, being labelled as ours: no request when there is none).
func (r *TenantReconciler) deleteOwned(ctx context.Context, tenant *v1alpha1.Tenant, key client.ObjectKey, obj client.Object) error {
	switch err := r.Get(ctx, key, obj); {
	case apierrors.IsNotFound(err), meta.IsNoMatchError(err):
		return nil
	case err != nil:
		return fmt.Errorf("getting %T %s: %w", obj, key, err)
	case !metav1.IsControlledBy(obj, tenant):
		return nil
	}
	if err := r.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting %T %s the spec no longer asks for: %w", obj, key, err)
	}
	return nil
}

// routeExposure reads the HTTPRoute's status for the Gateway it attaches to,
// as Gateway API defines it: Accepted and ResolvedRefs, each for the
// route's current generation.
func routeExposure(route *gatewayv1.HTTPRoute, routeNS string, gw v1alpha1.GatewayExposure, issuerURL string) *exposureObservation {
	gwNS := gw.Namespace
	if gwNS == "" {
		gwNS = routeNS
	}
	gateway := gwNS + "/" + gw.Name
	waiting := &exposureObservation{status: metav1.ConditionUnknown, reason: v1alpha1.ReasonWaitingForController,
		message: fmt.Sprintf("HTTPRoute %s attaches to Gateway %s; waiting for the Gateway's controller to accept it", route.Name, gateway)}
	for _, p := range route.Status.Parents {
		ref := p.ParentRef
		ns := routeNS
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if string(ref.Name) != gw.Name || ns != gwNS || (gw.SectionName != "" && (ref.SectionName == nil || string(*ref.SectionName) != gw.SectionName)) {
			continue
		}
		accepted := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		resolved := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionResolvedRefs))
		switch {
		case accepted == nil || accepted.ObservedGeneration < route.Generation:
			return waiting
		case accepted.Status != metav1.ConditionTrue:
			return &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonRouteNotAccepted,
				message: fmt.Sprintf("Gateway %s did not accept HTTPRoute %s (%s): %s", gateway, route.Name, accepted.Reason, strings.TrimSuffix(accepted.Message, "."))}
		case resolved != nil && resolved.ObservedGeneration >= route.Generation && resolved.Status != metav1.ConditionTrue:
			return &exposureObservation{status: metav1.ConditionFalse, reason: v1alpha1.ReasonRouteNotAccepted,
				message: fmt.Sprintf("Gateway %s accepted HTTPRoute %s but cannot reach the issuer Service (%s): %s", gateway, route.Name, resolved.Reason, strings.TrimSuffix(resolved.Message, "."))}
		case resolved == nil || resolved.ObservedGeneration < route.Generation:
			return waiting
		}
		return &exposureObservation{status: metav1.ConditionTrue, reason: v1alpha1.ReasonRouteAccepted,
			message: fmt.Sprintf("Gateway %s routes %s to the issuer (HTTPRoute %s)", gateway, issuerURL, route.Name)}
	}
	return waiting
}

// ingressExposure: an Ingress is served once its controller publishes an
// address (Ingress has no acceptance condition).
func ingressExposure(ing *networkingv1.Ingress, issuerURL string) *exposureObservation {
	var addrs []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		if lb.IP != "" {
			addrs = append(addrs, lb.IP)
		}
		if lb.Hostname != "" {
			addrs = append(addrs, lb.Hostname)
		}
	}
	class := ""
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	if len(addrs) == 0 {
		return &exposureObservation{status: metav1.ConditionUnknown, reason: v1alpha1.ReasonWaitingForController,
			message: fmt.Sprintf("Ingress %s (class %s) has no address yet; waiting for the ingress controller", ing.Name, class)}
	}
	return &exposureObservation{status: metav1.ConditionTrue, reason: v1alpha1.ReasonAddressAssigned,
		message: fmt.Sprintf("Ingress %s (class %s) serves %s at %s; DNS for the host must point there", ing.Name, class, issuerURL, strings.Join(addrs, ", "))}
}

// refusedIngressAnnotations lists, sorted, the annotation keys the
// operator's allow-list does not cover (none when it is empty).
func (r *TenantReconciler) refusedIngressAnnotations(annotations map[string]string) []string {
	if len(r.AllowedIngressAnnotations) == 0 {
		return nil
	}
	var refused []string
	for key := range annotations {
		allowed := slices.ContainsFunc(r.AllowedIngressAnnotations, func(pattern string) bool {
			prefix, wildcard := strings.CutSuffix(pattern, "*")
			return key == pattern || (wildcard && strings.HasPrefix(key, prefix))
		})
		if !allowed {
			refused = append(refused, key)
		}
	}
	slices.Sort(refused)
	return refused
}

// clusterIssuerAllowed reports whether a Tenant may request its certificate
// from ref: any namespaced Issuer (it lives in the Tenant's namespace), and
// a cluster-scoped one (a kind ending in ClusterIssuer) only when the
// operator's allow-list is empty or names it (security review N7).
func (r *TenantReconciler) clusterIssuerAllowed(ref v1alpha1.CertManagerIssuerRef) bool {
	if len(r.AllowedClusterIssuers) == 0 || !strings.HasSuffix(ref.Kind, "ClusterIssuer") {
		return true
	}
	return slices.Contains(r.AllowedClusterIssuers, ref.Name)
}
