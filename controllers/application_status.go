package controllers

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// applicationObservation is what one Application reconcile found out. The
// sub-steps fill it; applicationStatus turns it into status in one place.
type applicationObservation struct {
	// tenant is the resolved Tenant, nil with tenantProblem set otherwise.
	tenant        *v1alpha1.Tenant
	tenantProblem *problem
	// apis is the effective configuration of every API in spec.apis, in
	// order, once all resolved.
	apis []lifetime.API
	// apiProblem is set when an entry of spec.apis cannot be served.
	apiProblem *problem
	// servedAPIs are the entries of spec.apis the issuer serves (those
	// with apis' effective configuration, in order).
	servedAPIs []v1alpha1.APIAccess
	// effective is the lifetimes matrix, set once tenant and APIs resolved.
	effective *lifetime.Application
	// credentialsSecret is the name of the owned credentials Secret.
	credentialsSecret  string
	credentialsProblem *problem
	// servedProblem is set while the issuer replicas do not serve this
	// generation of the Application yet.
	servedProblem *problem
	// now is when the observation was made.
	now time.Time
}

// ClientID is the OAuth client_id of an Application: "<name>.<namespace>".
// Namespaces cannot contain dots, so the split is unambiguous.
func ClientID(app *v1alpha1.Application) string {
	return app.Name + "." + app.Namespace
}

// applicationStatus derives the whole status of app from obs.
func applicationStatus(app *v1alpha1.Application, obs applicationObservation) v1alpha1.ApplicationStatus {
	gen := app.Generation
	st := v1alpha1.ApplicationStatus{
		ObservedGeneration:    gen,
		Conditions:            append([]metav1.Condition(nil), app.Status.Conditions...),
		ClientID:              ClientID(app),
		CredentialsSecretName: obs.credentialsSecret,
	}
	conds := &st.Conditions

	if obs.tenantProblem == nil && obs.tenant == nil {
		obs.tenantProblem = &problem{reason: v1alpha1.ReasonProgressing, message: "Resolving the Tenant."}
	}
	if obs.tenantProblem != nil {
		boolCondition(conds, gen, v1alpha1.ConditionTenantResolved, false, obs.tenantProblem.reason, obs.tenantProblem.message)
		setCondition(conds, gen, v1alpha1.ConditionAPIsResolved, metav1.ConditionUnknown, v1alpha1.ReasonTenantNotReady, "Waiting for the Tenant to resolve.")
	} else {
		st.IssuerURL = obs.tenant.Spec.IssuerURL
		boolCondition(conds, gen, v1alpha1.ConditionTenantResolved, true, v1alpha1.ReasonResolved,
			"Tenant "+tenantKey(app.Spec.TenantRef, app.Namespace).String()+" admits this Application.")
		if obs.apiProblem != nil {
			boolCondition(conds, gen, v1alpha1.ConditionAPIsResolved, false, obs.apiProblem.reason, obs.apiProblem.message)
		} else {
			boolCondition(conds, gen, v1alpha1.ConditionAPIsResolved, true, v1alpha1.ReasonResolved, "Every API in spec.apis exists in the same Tenant and defines the requested scopes.")
		}
	}

	eff := obs.effective
	if eff == nil {
		setClampedCondition(conds, gen, nil)
	} else {
		setClampedCondition(conds, gen, &eff.Enforcement)
		if !eff.Enforcement.Rejected() {
			prev := effectiveState[v1alpha1.ApplicationEffective]{effective: app.Status.Effective,
				since: app.Status.EffectiveSince, previousValidUntil: app.Status.PreviousTokensValidUntil}
			next := nextEffective(prev, eff.Status(), obs.servedProblem != nil, obs.now, longestApplicationToken)
			st.Effective, st.EffectiveSince, st.PreviousTokensValidUntil = next.effective, next.since, next.previousValidUntil
			st.Advisories = eff.Advisories
		}
	}
	setKstatusConditions(conds, gen, applicationReadiness(obs))
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
func applicationReadiness(obs applicationObservation) readiness {
	if obs.effective == nil {
		return gatedReadiness([]*problem{obs.tenantProblem, obs.apiProblem}, false, lifetime.Enforcement{}, nil, nil)
	}
	return gatedReadiness([]*problem{obs.tenantProblem, obs.apiProblem}, true, obs.effective.Enforcement,
		[]*problem{obs.credentialsProblem, obs.servedProblem}, obs.effective.Summary)
}

func fromProblem(p *problem) readiness {
	if p.stalls {
		return stalledBy(p.reason, p.message)
	}
	return waitingFor(p.reason, p.message)
}

// setClampedCondition reports LifetimesClamped from the policy enforcement;
// nil e (nothing computed yet) removes it rather than leave a stale verdict.
func setClampedCondition(conds *[]metav1.Condition, gen int64, e *lifetime.Enforcement) {
	if e == nil {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionLifetimesClamped)
		return
	}
	if e.Rejected() {
		boolCondition(conds, gen, v1alpha1.ConditionLifetimesClamped, false, v1alpha1.ReasonPolicyViolation,
			"Not clamped: the Tenant's policy mode is Reject. "+violationsMessage(*e))
		return
	}
	if len(e.Clamps) == 0 {
		boolCondition(conds, gen, v1alpha1.ConditionLifetimesClamped, false, v1alpha1.ReasonWithinPolicy, "Every requested lifetime is within the Tenant's policy.")
		return
	}
	msgs := make([]string, 0, len(e.Clamps))
	for _, c := range e.Clamps {
		msgs = append(msgs, c.Message())
	}
	boolCondition(conds, gen, v1alpha1.ConditionLifetimesClamped, true, v1alpha1.ReasonClamped, strings.Join(msgs, "; ")+".")
}

func violationsMessage(e lifetime.Enforcement) string {
	msgs := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		msgs = append(msgs, v.Message())
	}
	return "Refused by Tenant policy, not served by the issuer: " + strings.Join(msgs, "; ") + "."
}
