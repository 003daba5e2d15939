package serving

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/audience"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// BlocksApplication says whether p keeps the whole Application out of the
// issuer (not just some of its APIs).
func BlocksApplication(p *status.Problem) bool { return p != nil && !p.ServedWithout }

// WithAPIs returns app with spec.apis replaced by kept, the entries the
// issuer serves; app itself when nothing was left out.
func WithAPIs(app *v1alpha1.Application, kept []v1alpha1.APIAccess) *v1alpha1.Application {
	if len(kept) == len(app.Spec.APIs) {
		return app
	}
	out := app.DeepCopy()
	out.Spec.APIs = kept
	return out
}

// resolvedAPIs is what FetchAPIs found for an Application's spec.apis.
type resolvedAPIs struct {
	// APIs are the effective configurations of the entries served and kept
	// those entries, in spec order.
	APIs []lifetime.API
	Kept []v1alpha1.APIAccess
	// Problem is the first entry that keeps the whole Application out, or
	// (ServedWithout) the entries left out because their API's owner does
	// not consent.
	Problem *status.Problem
}

// FetchAPIs gets the APIs of app.Spec.APIs in order, checks each, and
// returns their effective configuration under t (the tenant's).
func FetchAPIs(ctx context.Context, lookup *APILookup, app *v1alpha1.Application, tenant *v1alpha1.Tenant, t lifetime.Tenant) (resolvedAPIs, error) {
	tenantRef := client.ObjectKeyFromObject(tenant)
	res := resolvedAPIs{APIs: make([]lifetime.API, 0, len(app.Spec.APIs)), Kept: make([]v1alpha1.APIAccess, 0, len(app.Spec.APIs))}
	fail := func(p *status.Problem) (resolvedAPIs, error) { return resolvedAPIs{Problem: p}, nil }
	var denied []string
	seen := make(map[string]int, len(app.Spec.APIs))
	for i, ref := range app.Spec.APIs {
		key := APIKey(ref, app.Namespace)
		// Admission cannot check this cheaply (CEL cost grows with the square
		// of the list), so the controller does.
		if j, dup := seen[key]; dup {
			return fail(&status.Problem{Reason: v1alpha1.ReasonInvalidSpec, Stalls: true,
				Message: fmt.Sprintf("spec.apis[%d] and spec.apis[%d] both list API %s; list each API once", j, i, key)})
		}
		seen[key] = i
		ns, name, _ := strings.Cut(key, "/")
		api, err := lookup.get(ctx, types.NamespacedName{Namespace: ns, Name: name})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return fail(&status.Problem{Reason: v1alpha1.ReasonAPINotFound,
					Message: fmt.Sprintf("API %s listed in spec.apis[%d] does not exist", key, i)})
			}
			return resolvedAPIs{}, fmt.Errorf("getting API %s: %w", key, err)
		}
		if got := TenantKey(api.Spec.TenantRef, api.Namespace); got != tenantRef {
			return fail(&status.Problem{Reason: v1alpha1.ReasonAPIInOtherTenant, Stalls: true,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] attaches to Tenant %s, not to this Application's Tenant %s", key, i, got, tenantRef)})
		}
		if p, err := CheckAdmission(ctx, lookup.Reader, tenant, "API", api); err != nil {
			return resolvedAPIs{}, err
		} else if p != nil {
			return fail(&status.Problem{Reason: v1alpha1.ReasonNamespaceNotAllowed, Stalls: true,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] is in namespace %q, which Tenant %s does not admit", key, i, api.Namespace, tenantRef)})
		}
		// The API owner's consent: without it this entry is left out, the
		// rest of the Application is still served.
		if p, err := CheckConsent(ctx, lookup.Reader, api, app.Namespace); err != nil {
			return resolvedAPIs{}, err
		} else if p != nil {
			if !p.ServedWithout {
				return fail(p)
			}
			denied = append(denied, fmt.Sprintf("spec.apis[%d]: %s", i, p.Message))
			continue
		}
		if v, err := lookup.Audience(ctx, tenant, api); err != nil {
			return resolvedAPIs{}, err
		} else if v.Outcome != audience.Held {
			return fail(&status.Problem{Reason: v1alpha1.ReasonAudienceConflict,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] is not served: %s", key, i, notServedBecause(api, v))})
		}
		eff := lifetime.ForAPI(t, api.Namespace, api.Name, api.Spec)
		if eff.Enforcement.Rejected() {
			return fail(&status.Problem{Reason: v1alpha1.ReasonPolicyViolation,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] is refused by Tenant policy: %s", key, i, eff.Enforcement.Violations[0].Message())})
		}
		for _, s := range ref.Scopes {
			if !slices.ContainsFunc(api.Spec.Scopes, func(d v1alpha1.APIScope) bool { return d.Name == s }) {
				return fail(&status.Problem{Reason: v1alpha1.ReasonScopeNotDefined, Stalls: true,
					Message: fmt.Sprintf("scope %q in spec.apis[%d].scopes is not defined in spec.scopes of API %s", s, i, key)})
			}
		}
		res.APIs = append(res.APIs, eff)
		res.Kept = append(res.Kept, ref)
	}
	if len(denied) > 0 {
		res.Problem = &status.Problem{Reason: v1alpha1.ReasonAPINotShared, Stalls: true, ServedWithout: true,
			Message: strings.Join(denied, "; ") + ". The issuer serves this Application without those APIs: its token requests for them fail with invalid_target."}
	}
	return res, nil
}
