package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// apiObservation is what one API reconcile found out.
type apiObservation struct {
	tenant        *v1alpha1.Tenant
	tenantProblem *problem
	// audienceProblem is set when this API does not hold its audience:
	// another API or namespace does, or the Tenant reserves it for others.
	audienceProblem *problem
	effective       *lifetime.API
	// applications are "<namespace>/<name>" of Applications listing this
	// API with its consent; deniedApplications those listing it without.
	applications       []string
	deniedApplications []string
	// servedProblem is set while the issuer replicas do not serve this
	// generation of the API yet.
	servedProblem *problem
	// now is when the observation was made.
	now time.Time
}

// apiStatus derives the whole status of api from obs.
func apiStatus(api *v1alpha1.API, obs apiObservation) v1alpha1.APIStatus {
	gen := api.Generation
	st := v1alpha1.APIStatus{
		ObservedGeneration: gen,
		Conditions:         append([]metav1.Condition(nil), api.Status.Conditions...),
		Applications:       obs.applications,
		DeniedApplications: obs.deniedApplications,
	}
	conds := &st.Conditions
	if obs.tenantProblem == nil && obs.tenant == nil {
		obs.tenantProblem = &problem{reason: v1alpha1.ReasonProgressing, message: "Resolving the Tenant."}
	}
	if p := obs.tenantProblem; p != nil {
		boolCondition(conds, gen, v1alpha1.ConditionTenantResolved, false, p.reason, p.message)
	} else {
		st.IssuerURL = obs.tenant.Spec.IssuerURL
		boolCondition(conds, gen, v1alpha1.ConditionTenantResolved, true, v1alpha1.ReasonResolved,
			"Tenant "+tenantKey(api.Spec.TenantRef, api.Namespace).String()+" admits this API.")
	}
	if eff := obs.effective; eff == nil {
		setClampedCondition(conds, gen, nil)
	} else {
		setClampedCondition(conds, gen, &eff.Enforcement)
		if !eff.Enforcement.Rejected() {
			s := eff.Status()
			prev := effectiveState[v1alpha1.APIEffective]{effective: api.Status.Effective,
				since: api.Status.EffectiveSince, previousValidUntil: api.Status.PreviousTokensValidUntil}
			next := nextEffective(prev, &s, obs.servedProblem != nil, obs.now, func(e *v1alpha1.APIEffective) time.Duration {
				return time.Duration(max(e.TokenLifetime.Seconds, e.TokenLifetimeForBrowserFlows.Seconds)) * time.Second
			})
			st.Effective, st.EffectiveSince, st.PreviousTokensValidUntil = next.effective, next.since, next.previousValidUntil
			st.Advisories = eff.Advisories
		}
	}
	setKstatusConditions(conds, gen, apiReadiness(obs))
	return st
}

func apiReadiness(obs apiObservation) readiness {
	if obs.effective == nil {
		return gatedReadiness([]*problem{obs.tenantProblem, obs.audienceProblem}, false, lifetime.Enforcement{}, nil, nil)
	}
	return gatedReadiness([]*problem{obs.tenantProblem, obs.audienceProblem}, true, obs.effective.Enforcement,
		[]*problem{obs.servedProblem}, obs.effective.Summary)
}
