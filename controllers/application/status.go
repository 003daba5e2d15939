package application

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// ApplicationObservation is what one Application reconcile found out. The
// sub-steps fill it; ApplicationStatus turns it into status in one place.
type ApplicationObservation struct {
	// Tenant is the resolved Tenant, nil with tenantProblem set otherwise.
	tenant        *v1alpha1.Tenant
	tenantProblem *status.Problem
	// apis is the effective configuration of every API in spec.apis, in
	// order, once all resolved.
	apis []lifetime.API
	// apiProblem is set when an entry of spec.apis cannot be served.
	apiProblem *status.Problem
	// servedAPIs are the entries of spec.apis the issuer serves (those
	// with apis' effective configuration, in order).
	servedAPIs []v1alpha1.APIAccess
	// effective is the lifetimes matrix, set once tenant and APIs resolved.
	effective *lifetime.Application
	// credentialsSecret is the name of the owned credentials Secret.
	credentialsSecret  string
	credentialsProblem *status.Problem
	// previousSecretValidUntil is when the client secret the last rotation
	// replaced stops working; zero without one.
	previousSecretValidUntil time.Time
	// nextSecretDue is when a rotation's new secret becomes client-secret;
	// zero without one.
	nextSecretDue time.Time
	// ServedProblem is set while the issuer replicas do not serve this
	// generation of the Application yet.
	servedProblem *status.Problem
	// now is when the observation was made.
	now time.Time
}

// ApplicationStatus derives the whole status of app from obs.
func ApplicationStatus(app *v1alpha1.Application, obs ApplicationObservation) v1alpha1.ApplicationStatus {
	gen := app.Generation
	st := v1alpha1.ApplicationStatus{
		ObservedGeneration:    gen,
		Conditions:            append([]metav1.Condition(nil), app.Status.Conditions...),
		ClientID:              serving.ClientID(app),
		CredentialsSecretName: obs.credentialsSecret,
	}
	if !obs.previousSecretValidUntil.IsZero() {
		st.PreviousClientSecretValidUntil = &metav1.Time{Time: obs.previousSecretValidUntil}
	}
	conds := &st.Conditions

	if obs.tenantProblem == nil && obs.tenant == nil {
		obs.tenantProblem = &status.Problem{Reason: v1alpha1.ReasonProgressing, Message: "Resolving the Tenant."}
	}
	if obs.tenantProblem != nil {
		status.BoolCondition(conds, gen, v1alpha1.ConditionTenantResolved, false, obs.tenantProblem.Reason, obs.tenantProblem.Message)
		status.SetCondition(conds, gen, v1alpha1.ConditionAPIsResolved, metav1.ConditionUnknown, v1alpha1.ReasonTenantNotReady, "Waiting for the Tenant to resolve.")
	} else {
		st.IssuerURL = obs.tenant.Spec.IssuerURL
		st.Consent = "NotRequired"
		if v1alpha1.ConsentRequired(obs.tenant.Spec.Consent, obs.tenant.Namespace, app.Namespace, &app.Spec) {
			st.Consent = "Required"
		}
		status.BoolCondition(conds, gen, v1alpha1.ConditionTenantResolved, true, v1alpha1.ReasonResolved,
			"Tenant "+serving.TenantKey(app.Spec.TenantRef, app.Namespace).String()+" admits this Application.")
		if obs.apiProblem != nil {
			status.BoolCondition(conds, gen, v1alpha1.ConditionAPIsResolved, false, obs.apiProblem.Reason, obs.apiProblem.Message)
		} else {
			status.BoolCondition(conds, gen, v1alpha1.ConditionAPIsResolved, true, v1alpha1.ReasonResolved, "Every API in spec.apis exists in the same Tenant and defines the requested scopes.")
		}
	}

	eff := obs.effective
	if eff == nil {
		status.SetClampedCondition(conds, gen, nil)
	} else {
		status.SetClampedCondition(conds, gen, &eff.Enforcement)
		if !eff.Enforcement.Rejected() {
			prev := status.EffectiveState[v1alpha1.ApplicationEffective]{Effective: app.Status.Effective,
				Since: app.Status.EffectiveSince, PreviousValidUntil: app.Status.PreviousTokensValidUntil}
			next := status.NextEffective(prev, eff.Status(), obs.servedProblem != nil, obs.now, longestApplicationToken)
			st.Effective, st.EffectiveSince, st.PreviousTokensValidUntil = next.Effective, next.Since, next.PreviousValidUntil
			st.Advisories = eff.Advise()
		}
	}
	status.SetKstatusConditions(conds, gen, applicationReadiness(obs))
	return st
}

// longestApplicationToken is the longest lifetime of a JWT issued to the
// application (refresh tokens are opaque and revocable, so not counted).
func longestApplicationToken(e *v1alpha1.ApplicationEffective) time.Duration {
	var longest int64
	if e.IDToken != nil {
		longest = e.IDToken.Seconds
	}
	for _, at := range e.AccessTokens {
		longest = max(longest, at.Lifetime.Seconds)
	}
	return time.Duration(longest) * time.Second
}

// applicationReadiness picks the first thing that keeps the application from
// being served, in the order a user would fix them.
func applicationReadiness(obs ApplicationObservation) status.Readiness {
	if obs.effective == nil {
		return status.GatedReadiness([]*status.Problem{obs.tenantProblem, obs.apiProblem}, false, lifetime.Enforcement{}, nil, nil)
	}
	return status.GatedReadiness([]*status.Problem{obs.tenantProblem, obs.apiProblem}, true, obs.effective.Enforcement,
		[]*status.Problem{obs.credentialsProblem, obs.servedProblem}, obs.effective.Summary)
}
