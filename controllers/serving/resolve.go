package serving

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
)

// TenantKey is the Tenant an object refers to, defaulting the namespace.
func TenantKey(ref v1alpha1.TenantReference, ownNamespace string) types.NamespacedName {
	return ref.KeyFrom(ownNamespace)
}

// ResolveTenant fetches the Tenant that kind/obj refers to and checks that
// it admits obj's namespace. A nil problem means resolved; a non-nil error
// is transient (API server trouble) and retried.
func ResolveTenant(ctx context.Context, c client.Reader, kind string, obj client.Object, ref v1alpha1.TenantReference) (*v1alpha1.Tenant, *status.Problem, error) {
	key := TenantKey(ref, obj.GetNamespace())
	tenant := &v1alpha1.Tenant{}
	if err := c.Get(ctx, key, tenant); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &status.Problem{Reason: v1alpha1.ReasonTenantNotFound,
				Message: fmt.Sprintf("Tenant %s referenced by spec.tenantRef does not exist", key)}, nil
		}
		return nil, nil, fmt.Errorf("getting Tenant %s: %w", key, err)
	}
	if !tenant.DeletionTimestamp.IsZero() {
		return nil, &status.Problem{Reason: v1alpha1.ReasonTenantNotFound,
			Message: fmt.Sprintf("Tenant %s referenced by spec.tenantRef is being deleted", key)}, nil
	}
	p, err := CheckAdmission(ctx, c, tenant, kind, obj)
	if p != nil || err != nil {
		return nil, p, err
	}
	return tenant, nil, nil
}

// CheckAdmission reports whether tenant admits kind/obj from obj's
// namespace (nil problem: admitted), reading the namespace's labels when the
// Tenant selects namespaces by label. Callers that already hold the Tenant
// use it directly instead of fetching the Tenant again.
func CheckAdmission(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant, kind string, obj client.Object) (*status.Problem, error) {
	var nsLabels map[string]string
	if allowedFrom(tenant) == v1alpha1.NamespacesFromSelector && obj.GetNamespace() != tenant.Namespace {
		var err error
		if nsLabels, err = namespaceLabels(ctx, c, obj.GetNamespace()); err != nil {
			return nil, err
		}
	}
	return admission(tenant, kind, obj.GetNamespace(), nsLabels), nil
}

// namespaceLabels reads a namespace's labels. NotFound: the cache has not
// seen a namespace created together with the object yet; it is judged
// without labels, and the Namespace watch re-checks when it arrives.
func namespaceLabels(ctx context.Context, c client.Reader, name string) (map[string]string, error) {
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, types.NamespacedName{Name: name}, ns); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("getting Namespace %s: %w", name, err)
	}
	return ns.Labels, nil
}

// admission is the Tenant's rule for kind objects from namespace, whose
// labels are nsLabels (needed for Selector only): nil when admitted.
func admission(tenant *v1alpha1.Tenant, kind, namespace string, nsLabels map[string]string) *status.Problem {
	key := client.ObjectKeyFromObject(tenant)
	admitted, err := tenantAdmits(tenant, namespace, nsLabels)
	if err != nil {
		return &status.Problem{Reason: v1alpha1.ReasonNamespaceNotAllowed, Stalls: true,
			Message: fmt.Sprintf("Tenant %s has an invalid spec.allowedNamespaces.selector: %v", key, err)}
	}
	if !admitted {
		return &status.Problem{Reason: v1alpha1.ReasonNamespaceNotAllowed, Stalls: true,
			Message: fmt.Sprintf("Tenant %s does not admit %ss from namespace %q (spec.allowedNamespaces.from is %s)",
				key, kind, namespace, allowedFrom(tenant))}
	}
	return nil
}

// GetFresh reads through the cache, and past it (live) when the cache says
// the object does not exist: an object written moments ago may not be cached
// yet, or may not be cached at all (the cache holds only objects labelled as
// idtenant's). Taking "not found" for the truth could replace signing keys,
// restart the config generation or overwrite someone else's Secret.
func GetFresh(ctx context.Context, cached, live client.Reader, key client.ObjectKey, obj client.Object) error {
	err := cached.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		return live.Get(ctx, key, obj)
	}
	return err
}

func allowedFrom(t *v1alpha1.Tenant) v1alpha1.NamespacesFrom {
	if t.Spec.AllowedNamespaces == nil || t.Spec.AllowedNamespaces.From == "" {
		return v1alpha1.NamespacesFromSame
	}
	return t.Spec.AllowedNamespaces.From
}

// tenantAdmits decides whether tenant admits objects from namespace, whose
// labels are nsLabels (only needed for Selector). The Tenant's own namespace
// is always admitted.
func tenantAdmits(tenant *v1alpha1.Tenant, namespace string, nsLabels map[string]string) (bool, error) {
	if namespace == tenant.Namespace {
		return true, nil
	}
	switch allowedFrom(tenant) {
	case v1alpha1.NamespacesFromAll:
		return true, nil
	case v1alpha1.NamespacesFromSelector:
		sel, err := metav1.LabelSelectorAsSelector(tenant.Spec.AllowedNamespaces.Selector)
		if err != nil {
			return false, err
		}
		return sel.Matches(labels.Set(nsLabels)), nil
	default:
		return false, nil
	}
}

func allowedApplicationsFrom(api *v1alpha1.API) v1alpha1.ApplicationNamespacesFrom {
	if api.Spec.AllowedApplications == nil || api.Spec.AllowedApplications.Namespaces.From == "" {
		return v1alpha1.ApplicationsFromSame
	}
	return api.Spec.AllowedApplications.Namespaces.From
}

// apiAllows decides whether api's owner consents to Applications from
// namespace, whose labels are nsLabels (only needed for Selector). The API's
// own namespace is always allowed.
func apiAllows(api *v1alpha1.API, namespace string, nsLabels map[string]string) (bool, error) {
	if namespace == api.Namespace {
		return true, nil
	}
	ns := api.Spec.AllowedApplications
	switch allowedApplicationsFrom(api) {
	case v1alpha1.ApplicationsFromAll:
		return true, nil
	case v1alpha1.ApplicationsFromNames:
		return slices.Contains(ns.Namespaces.Names, namespace), nil
	case v1alpha1.ApplicationsFromSelector:
		sel, err := metav1.LabelSelectorAsSelector(ns.Namespaces.Selector)
		if err != nil {
			return false, err
		}
		return sel.Matches(labels.Set(nsLabels)), nil
	default:
		return false, nil
	}
}

// CheckConsent reports whether api's owner consents to Applications from
// namespace, reading the namespace's labels when the API selects by label.
// A nil problem means consent.
func CheckConsent(ctx context.Context, c client.Reader, api *v1alpha1.API, namespace string) (*status.Problem, error) {
	var nsLabels map[string]string
	if allowedApplicationsFrom(api) == v1alpha1.ApplicationsFromSelector && namespace != api.Namespace {
		var err error
		if nsLabels, err = namespaceLabels(ctx, c, namespace); err != nil {
			return nil, err
		}
	}
	return consent(api, namespace, nsLabels), nil
}

// consent is api's owner's rule for Applications from namespace, whose
// labels are nsLabels (needed for Selector only): nil when it consents.
func consent(api *v1alpha1.API, namespace string, nsLabels map[string]string) *status.Problem {
	key := client.ObjectKeyFromObject(api)
	ok, err := apiAllows(api, namespace, nsLabels)
	if err != nil {
		return &status.Problem{Reason: v1alpha1.ReasonAPINotShared, Stalls: true,
			Message: fmt.Sprintf("API %s has an invalid spec.allowedApplications.namespaces.selector: %v", key, err)}
	}
	if ok {
		return nil
	}
	var how string
	switch allowedApplicationsFrom(api) {
	case v1alpha1.ApplicationsFromNames:
		how = fmt.Sprintf("its spec.allowedApplications.namespaces.names does not list %q; its owner can add it there", namespace)
	case v1alpha1.ApplicationsFromSelector:
		how = fmt.Sprintf("namespace %q does not match its spec.allowedApplications.namespaces.selector; its owner can widen the selector or list the namespace by name (from: Names)", namespace)
	default:
		how = fmt.Sprintf("it allows Applications of its own namespace only (spec.allowedApplications not set); its owner can allow this one with spec.allowedApplications.namespaces {from: Names, names: [%s]}", namespace)
	}
	return &status.Problem{Reason: v1alpha1.ReasonAPINotShared, Stalls: true, ServedWithout: true,
		Message: fmt.Sprintf("API %s does not allow Applications from namespace %q: %s", key, namespace, how)}
}
