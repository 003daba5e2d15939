package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// problem is a reason and message for a condition that is not True.
type problem struct {
	reason  string
	message string
	// stalls says whether only a spec change can fix it (see readiness).
	stalls bool
}

// tenantKey is the Tenant an object refers to, defaulting the namespace.
func tenantKey(ref v1alpha1.TenantReference, ownNamespace string) types.NamespacedName {
	ns := ref.Namespace
	if ns == "" {
		ns = ownNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: ref.Name}
}

// resolveTenant fetches the Tenant that kind/obj refers to and checks that
// it admits obj's namespace. A nil problem means resolved; a non-nil error
// is transient (API server trouble) and retried.
func resolveTenant(ctx context.Context, c client.Reader, kind string, obj client.Object, ref v1alpha1.TenantReference) (*v1alpha1.Tenant, *problem, error) {
	key := tenantKey(ref, obj.GetNamespace())
	tenant := &v1alpha1.Tenant{}
	if err := c.Get(ctx, key, tenant); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &problem{reason: v1alpha1.ReasonTenantNotFound,
				message: fmt.Sprintf("Tenant %s referenced by spec.tenantRef does not exist", key)}, nil
		}
		return nil, nil, fmt.Errorf("getting Tenant %s: %w", key, err)
	}
	if !tenant.DeletionTimestamp.IsZero() {
		return nil, &problem{reason: v1alpha1.ReasonTenantNotFound,
			message: fmt.Sprintf("Tenant %s referenced by spec.tenantRef is being deleted", key)}, nil
	}
	p, err := checkAdmission(ctx, c, tenant, kind, obj)
	if p != nil || err != nil {
		return nil, p, err
	}
	return tenant, nil, nil
}

// checkAdmission reports whether tenant admits kind/obj from obj's
// namespace (nil problem: admitted). Callers that already hold the Tenant use
// it directly instead of fetching the Tenant again.
func checkAdmission(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant, kind string, obj client.Object) (*problem, error) {
	key := client.ObjectKeyFromObject(tenant)
	var nsLabels map[string]string
	if from := allowedFrom(tenant); from == v1alpha1.NamespacesFromSelector && obj.GetNamespace() != tenant.Namespace {
		ns := &corev1.Namespace{}
		// NotFound: the cache has not seen a namespace created together with
		// the object yet; judge it without labels, and the Namespace watch
		// re-checks when it arrives.
		if err := c.Get(ctx, types.NamespacedName{Name: obj.GetNamespace()}, ns); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("getting Namespace %s: %w", obj.GetNamespace(), err)
		}
		nsLabels = ns.Labels
	}
	admitted, err := tenantAdmits(tenant, obj.GetNamespace(), nsLabels)
	if err != nil {
		return &problem{reason: v1alpha1.ReasonNamespaceNotAllowed, stalls: true,
			message: fmt.Sprintf("Tenant %s has an invalid spec.allowedNamespaces.selector: %v", key, err)}, nil
	}
	if !admitted {
		return &problem{reason: v1alpha1.ReasonNamespaceNotAllowed, stalls: true,
			message: fmt.Sprintf("Tenant %s does not admit %ss from namespace %q (spec.allowedNamespaces.from is %s)",
				key, kind, obj.GetNamespace(), allowedFrom(tenant))}, nil
	}
	return nil, nil
}

// getFresh reads through the cache, and past it (live) when the cache says
// the object does not exist: an object written moments ago may not be cached
// yet, or may not be cached at all (the cache holds only objects labelled as
// idtenant's). Taking "not found" for the truth could replace signing keys,
// restart the config generation or overwrite someone else's Secret.
func getFresh(ctx context.Context, cached, live client.Reader, key client.ObjectKey, obj client.Object) error {
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
