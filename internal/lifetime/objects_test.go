package lifetime

import "github.com/idtenant/idtenant/api/v1alpha1"

// The tests describe Tenants, APIs and Applications as users write them;
// these adapt them to the engine's plain inputs.

func forTenant(t *v1alpha1.Tenant) Tenant { return ForTenant(t.Name, t.Spec) }

func forAPI(tenant Tenant, api *v1alpha1.API) API {
	return ForAPI(tenant, api.Namespace, api.Name, api.Spec)
}

func forApplication(tenant Tenant, app *v1alpha1.Application, apis []API) Application {
	return ForApplication(tenant, app.Name, app.Spec, apis)
}
