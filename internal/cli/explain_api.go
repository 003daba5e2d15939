package cli

import (
	"context"
	"fmt"
	"io"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// apiView is what `explain api` shows: an API, its Tenant and every
// Application that asks for its tokens.
type apiView struct {
	api       *v1alpha1.API
	tenant    *v1alpha1.Tenant // nil when it cannot be read, and why
	tenantErr error
	apps      []v1alpha1.Application
	scope     string // as tenantView's
}

func gatherAPI(ctx context.Context, c client.Reader, namespace, name string) (*apiView, error) {
	v := &apiView{api: &v1alpha1.API{}}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, v.api); err != nil {
		return nil, fmt.Errorf("reading API %s/%s: %w", namespace, name, err)
	}
	v.tenant, v.tenantErr = readTenant(ctx, c, v.api.Spec.TenantRef, namespace)
	var apps v1alpha1.ApplicationList
	if err := listEverywhere(ctx, c, namespace, &apps); err != nil {
		v.scope = fmt.Sprintf("only namespace %s was searched for Applications: %v", namespace, err)
	}
	for _, a := range apps.Items {
		for _, ref := range a.Spec.APIs {
			ns := ref.Namespace
			if ns == "" {
				ns = a.Namespace
			}
			if ns == v.api.Namespace && ref.Name == v.api.Name {
				v.apps = append(v.apps, a)
				break
			}
		}
	}
	sort.Slice(v.apps, func(i, j int) bool { return key(&v.apps[i]) < key(&v.apps[j]) })
	return v, nil
}

// tokensFor are an Application's effective access tokens for the API.
func tokensFor(a *v1alpha1.Application, api *v1alpha1.API) []v1alpha1.EffectiveAccessToken {
	if a.Status.Effective == nil {
		return nil
	}
	var out []v1alpha1.EffectiveAccessToken
	for _, at := range a.Status.Effective.AccessTokens {
		if at.API == key(api) {
			out = append(out, at)
		}
	}
	return out
}

// writeAPI writes the API's tree: its own lifetimes, then what each
// Application's tokens for it get, per flow.
func writeAPI(w io.Writer, v *apiView) {
	api := v.api
	root := &node{text: fmt.Sprintf("API %s  %s  %s", key(api), api.Spec.Audience, readySummary(api.Status.Conditions, api.Generation, api.Status.ObservedGeneration))}
	if t := v.tenant; t != nil {
		root.add("Tenant %s  %s  %s", key(t), t.Spec.IssuerURL, readySummary(t.Status.Conditions, t.Generation, t.Status.ObservedGeneration))
	} else {
		root.add("Tenant %s (cannot be read: %v)", refKey(api.Spec.TenantRef, api.Namespace), v.tenantErr)
	}
	if e := api.Status.Effective; e != nil {
		root.add("standard flows  %s", lifetime(e.TokenLifetime))
		root.add("browser flows   %s", lifetime(e.TokenLifetimeForBrowserFlows))
		root.add("signing %s", e.SigningAlgorithm)
	} else {
		root.add("no effective lifetimes yet: %s", conditionMessage(api.Status.Conditions, v1alpha1.ConditionReady))
	}
	apps := root.add("Applications that ask for its tokens  %d", len(v.apps))
	for i := range v.apps {
		a := &v.apps[i]
		n := apps.add("%s (%s)  %s", key(a), a.Spec.Type, readySummary(a.Status.Conditions, a.Generation, a.Status.ObservedGeneration))
		for _, at := range tokensFor(a, api) {
			n.add("%-8s access token  %s  (%s)", at.Flow, lifetime(at.Lifetime), at.FlowRule)
		}
	}
	if v.scope != "" {
		root.add("note: %s", v.scope)
	}
	root.write(w, "", true, true)
}

// apiReport is `idtenant explain api -o json|yaml`.
type apiReport struct {
	API    explainAPI     `json:"api"`
	Tenant *explainObject `json:"tenant,omitempty"`
	// TenantRef is the Tenant the API attaches to (namespace/name), and
	// TenantError why it could not be read.
	TenantRef    string   `json:"tenantRef"`
	TenantError  string   `json:"tenantError,omitempty"`
	Applications []apiUse `json:"applications"`
	Scope        string   `json:"scope,omitempty"`
}

// apiUse is one Application's tokens for the API.
type apiUse struct {
	explainObject
	AccessTokens []v1alpha1.EffectiveAccessToken `json:"accessTokens,omitempty"`
}

func (v *apiView) report() apiReport {
	r := apiReport{API: apiOf(v.api), TenantRef: refKey(v.api.Spec.TenantRef, v.api.Namespace), TenantError: errString(v.tenantErr),
		Applications: []apiUse{}, Scope: v.scope}
	if t := v.tenant; t != nil {
		o := objectOf(t.Namespace, t.Name, t.Status.Conditions)
		r.Tenant = &o
	}
	for i := range v.apps {
		a := &v.apps[i]
		r.Applications = append(r.Applications, apiUse{explainObject: objectOf(a.Namespace, a.Name, a.Status.Conditions), AccessTokens: tokensFor(a, v.api)})
	}
	return r
}
