package serving

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// The gatherers read, from the manager's cache, what Decide needs; they
// decide nothing. Lists are the cache's own objects, not copies (copying
// 5,000 Applications per render was most of a render's cost): Decide and
// the controllers only read them.

// Gather reads everything the served decision of tenant needs: its APIs
// and Applications, the APIs they list elsewhere, the namespace labels a
// selector judges and the credentials of its confidential Applications.
// The Tenant reconciler renders the plan.
func Gather(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant) (Input, error) {
	in := Input{Tenant: tenant}
	var err error
	if in.APIs, err = listTenantAPIs(ctx, c, tenant); err != nil {
		return in, err
	}
	var apps v1alpha1.ApplicationList
	key := client.ObjectKeyFromObject(tenant).String()
	if err := c.List(ctx, &apps, client.MatchingFields{IndexTenant: key}, client.UnsafeDisableDeepCopy); err != nil {
		return in, fmt.Errorf("listing Applications of Tenant %s: %w", key, err)
	}
	in.Applications = Ptrs(apps.Items)
	if err := in.gatherReferences(ctx, c); err != nil {
		return in, err
	}
	in.Credentials = map[string]Credential{}
	for _, app := range in.Applications {
		if !IsConfidential(app.Spec.Type) {
			continue
		}
		s := &corev1.Secret{}
		err := c.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: CredentialsSecretName(app)}, s)
		if apierrors.IsNotFound(err) {
			continue // its reconciler has not created the credentials yet
		}
		if err != nil {
			return in, fmt.Errorf("getting credentials of Application %s/%s: %w", app.Namespace, app.Name, err)
		}
		cred := Credential{Secret: s.Data[SecretKeyClientSecret], Controlled: metav1.IsControlledBy(s, app)}
		if until := PreviousSecretValidUntil(s); !until.IsZero() {
			cred.Previous, cred.PreviousValidUntil = s.Data[SecretKeyPreviousClientSecret], until
		}
		cred.Next = s.Data[SecretKeyNextClientSecret]
		in.Credentials[ClientID(app)] = cred
	}
	return in, nil
}

// GatherForApplication reads what the verdict on app needs: the Tenant's
// APIs (audiences are decided among all of them), app alone, and the APIs
// it lists elsewhere. Credentials are the Application's own business.
func GatherForApplication(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant, app *v1alpha1.Application) (Input, error) {
	in := Input{Tenant: tenant, Applications: []*v1alpha1.Application{app}}
	var err error
	if in.APIs, err = listTenantAPIs(ctx, c, tenant); err != nil {
		return in, err
	}
	return in, in.gatherReferences(ctx, c)
}

// GatherForAPI reads what the verdict on api needs: the Tenant's APIs
// (audiences are decided among all of them) and the Tenant's Applications
// that list api.
func GatherForAPI(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant, api *v1alpha1.API) (Input, error) {
	in := Input{Tenant: tenant}
	var err error
	if in.APIs, err = listTenantAPIs(ctx, c, tenant); err != nil {
		return in, err
	}
	var list v1alpha1.ApplicationList
	if err := c.List(ctx, &list, client.MatchingFields{IndexAPIs: client.ObjectKeyFromObject(api).String()}, client.UnsafeDisableDeepCopy); err != nil {
		return in, fmt.Errorf("listing Applications of API %s: %w", client.ObjectKeyFromObject(api), err)
	}
	tenantKey := client.ObjectKeyFromObject(tenant)
	for i := range list.Items {
		if app := &list.Items[i]; TenantKey(app.Spec.TenantRef, app.Namespace) == tenantKey {
			in.Applications = append(in.Applications, app)
		}
	}
	return in, in.gatherReferences(ctx, c)
}

// listTenantAPIs lists the APIs that refer to tenant.
func listTenantAPIs(ctx context.Context, c client.Reader, tenant *v1alpha1.Tenant) ([]*v1alpha1.API, error) {
	var list v1alpha1.APIList
	key := client.ObjectKeyFromObject(tenant).String()
	if err := c.List(ctx, &list, client.MatchingFields{IndexTenant: key}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing APIs of Tenant %s: %w", key, err)
	}
	return Ptrs(list.Items), nil
}

// gatherReferences reads the APIs the Applications list that do not attach
// to the Tenant, and the labels of the namespaces a label selector judges
// (the Tenant's spec.allowedNamespaces, an API's
// spec.allowedApplications).
func (in *Input) gatherReferences(ctx context.Context, c client.Reader) error {
	own := make(map[types.NamespacedName]bool, len(in.APIs))
	for _, api := range in.APIs {
		own[client.ObjectKeyFromObject(api)] = true
	}
	in.Referenced = map[types.NamespacedName]*v1alpha1.API{}
	for _, app := range in.Applications {
		for _, ref := range app.Spec.APIs {
			key := keyOf(APIKey(ref, app.Namespace))
			if own[key] || in.Referenced[key] != nil {
				continue
			}
			api := &v1alpha1.API{}
			if err := c.Get(ctx, key, api); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return fmt.Errorf("getting API %s: %w", key, err)
			}
			in.Referenced[key] = api
		}
	}
	selects := allowedFrom(in.Tenant) == v1alpha1.NamespacesFromSelector
	for _, api := range in.APIs {
		selects = selects || allowedApplicationsFrom(api) == v1alpha1.ApplicationsFromSelector
	}
	for _, api := range in.Referenced {
		selects = selects || allowedApplicationsFrom(api) == v1alpha1.ApplicationsFromSelector
	}
	if !selects {
		return nil
	}
	in.NamespaceLabels = map[string]map[string]string{}
	read := func(ns string) error {
		if _, done := in.NamespaceLabels[ns]; done {
			return nil
		}
		labels, err := namespaceLabels(ctx, c, ns)
		in.NamespaceLabels[ns] = labels
		return err
	}
	for _, api := range in.APIs {
		if err := read(api.Namespace); err != nil {
			return err
		}
	}
	for _, api := range in.Referenced {
		if err := read(api.Namespace); err != nil {
			return err
		}
	}
	for _, app := range in.Applications {
		if err := read(app.Namespace); err != nil {
			return err
		}
	}
	return nil
}
