package api

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// APIObservation is what one API reconcile found out.
type APIObservation struct {
	tenant        *v1alpha1.Tenant
	tenantProblem *status.Problem
	// AudienceProblem is set when this API does not hold its audience:
	// another API or namespace does, or the Tenant reserves it for others.
	audienceProblem *status.Problem
	effective       *lifetime.API
	// applications are "<namespace>/<name>" of Applications listing this
	// API with its consent; deniedApplications those listing it without.
	applications       []string
	deniedApplications []string
	// ServedProblem is set while the issuer replicas do not serve this
	// generation of the API yet.
	servedProblem *status.Problem
	// now is when the observation was made.
	now time.Time
}

// APIStatus derives the whole status of api from obs.
func APIStatus(api *v1alpha1.API, obs APIObservation) v1alpha1.APIStatus {
	gen := api.Generation
	st := v1alpha1.APIStatus{
		ObservedGeneration: gen,
		Conditions:         append([]metav1.Condition(nil), api.Status.Conditions...),
		Applications:       obs.applications,
		DeniedApplications: obs.deniedApplications,
	}
	conds := &st.Conditions
	if obs.tenantProblem == nil && obs.tenant == nil {
		obs.tenantProblem = &status.Problem{Reason: v1alpha1.ReasonProgressing, Message: "Resolving the Tenant."}
	}
	if p := obs.tenantProblem; p != nil {
		status.BoolCondition(conds, gen, v1alpha1.ConditionTenantResolved, false, p.Reason, p.Message)
	} else {
		st.IssuerURL = obs.tenant.Spec.IssuerURL
		status.BoolCondition(conds, gen, v1alpha1.ConditionTenantResolved, true, v1alpha1.ReasonResolved,
			"Tenant "+serving.TenantKey(api.Spec.TenantRef, api.Namespace).String()+" admits this API.")
	}
	if eff := obs.effective; eff == nil {
		status.SetClampedCondition(conds, gen, nil)
	} else {
		status.SetClampedCondition(conds, gen, &eff.Enforcement)
		if !eff.Enforcement.Rejected() {
			s := eff.Status()
			prev := status.EffectiveState[v1alpha1.APIEffective]{Effective: api.Status.Effective,
				Since: api.Status.EffectiveSince, PreviousValidUntil: api.Status.PreviousTokensValidUntil}
			next := status.NextEffective(prev, &s, obs.servedProblem != nil, obs.now, func(e *v1alpha1.APIEffective) time.Duration {
				return time.Duration(max(e.TokenLifetime.Seconds, e.TokenLifetimeForBrowserFlows.Seconds)) * time.Second
			})
			st.Effective, st.EffectiveSince, st.PreviousTokensValidUntil = next.Effective, next.Since, next.PreviousValidUntil
			st.Advisories = eff.Advise()
		}
	}
	status.SetKstatusConditions(conds, gen, apiReadiness(obs))
	return st
}

func apiReadiness(obs APIObservation) status.Readiness {
	if obs.effective == nil {
		return status.GatedReadiness([]*status.Problem{obs.tenantProblem, obs.audienceProblem}, false, lifetime.Enforcement{}, nil, nil)
	}
	return status.GatedReadiness([]*status.Problem{obs.tenantProblem, obs.audienceProblem}, true, obs.effective.Enforcement,
		[]*status.Problem{obs.servedProblem}, obs.effective.Summary)
}
