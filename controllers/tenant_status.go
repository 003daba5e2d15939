package controllers

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// tenantObservation is what one Tenant reconcile found out.
type tenantObservation struct {
	effective    lifetime.Tenant
	applications int32
	apis         int32
	// usersProblem is set when spec.usersSecretRef names a missing Secret.
	usersProblem *problem
}

// DiscoveryURL is where OpenID Provider metadata lives for issuerURL.
func DiscoveryURL(issuerURL string) string {
	return strings.TrimSuffix(issuerURL, "/") + "/.well-known/openid-configuration"
}

// tenantStatus derives the whole status of tenant from obs.
func tenantStatus(tenant *v1alpha1.Tenant, obs tenantObservation) v1alpha1.TenantStatus {
	gen := tenant.Generation
	eff := obs.effective.Status()
	st := v1alpha1.TenantStatus{
		ObservedGeneration: gen,
		Conditions:         append([]metav1.Condition(nil), tenant.Status.Conditions...),
		IssuerURL:          tenant.Spec.IssuerURL,
		DiscoveryURL:       DiscoveryURL(tenant.Spec.IssuerURL),
		Effective:          &eff,
		Applications:       obs.applications,
		APIs:               obs.apis,
	}
	r := readyWith(fmt.Sprintf("%s %d Applications and %d APIs attached.", obs.effective.Summary(), obs.applications, obs.apis))
	if p := obs.usersProblem; p != nil {
		r = fromProblem(p)
	}
	setKstatusConditions(&st.Conditions, gen, r)
	return st
}
