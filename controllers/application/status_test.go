package application

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/lifetime"
)

func TestApplicationStatus(t *testing.T) {
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example"}}
	rejecting := tenant.DeepCopy()
	rejecting.Spec.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyReject, MaxIDTokenLifetime: &metav1.Duration{Duration: time.Hour}}
	clamping := tenant.DeepCopy()
	clamping.Spec.Policy = &v1alpha1.LifetimePolicy{MaxIDTokenLifetime: &metav1.Duration{Duration: time.Hour}}
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: 3},
		Spec: v1alpha1.ApplicationSpec{Type: v1alpha1.RegularWeb, TenantRef: v1alpha1.TenantReference{Name: "acme", Namespace: "id"},
			IDTokenLifetime: &metav1.Duration{Duration: 2 * time.Hour}}}
	effective := func(t *v1alpha1.Tenant) *lifetime.Application {
		e := lifetime.ForApplication(lifetime.ForTenant(t.Name, t.Spec), app.Name, app.Spec, nil)
		return &e
	}

	cases := []struct {
		name               string
		obs                ApplicationObservation
		ready, reconciling metav1.ConditionStatus
		stalled, clamped   metav1.ConditionStatus
		reason             string
		wantEffective      bool
		wantIssuer         string
	}{
		{name: "tenant missing", obs: ApplicationObservation{tenantProblem: &status.Problem{Reason: v1alpha1.ReasonTenantNotFound, Message: "gone"}},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, reason: v1alpha1.ReasonTenantNotFound},
		{name: "namespace refused", obs: ApplicationObservation{tenantProblem: &status.Problem{Reason: v1alpha1.ReasonNamespaceNotAllowed, Message: "no", Stalls: true}},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, reason: v1alpha1.ReasonNamespaceNotAllowed},
		{name: "api missing", obs: ApplicationObservation{tenant: tenant, apiProblem: &status.Problem{Reason: v1alpha1.ReasonAPINotFound, Message: "x"}},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, reason: v1alpha1.ReasonAPINotFound, wantIssuer: "https://id.acme.example"},
		{name: "policy reject", obs: ApplicationObservation{tenant: rejecting, effective: effective(rejecting)},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, clamped: metav1.ConditionFalse, reason: v1alpha1.ReasonPolicyViolation, wantIssuer: "https://id.acme.example"},
		{name: "clamped but ready", obs: ApplicationObservation{tenant: clamping, effective: effective(clamping), credentialsSecret: "web-oidc-client"},
			ready: metav1.ConditionTrue, clamped: metav1.ConditionTrue, reason: v1alpha1.ReasonReady, wantEffective: true, wantIssuer: "https://id.acme.example"},
		{name: "credentials blocked", obs: ApplicationObservation{tenant: tenant, effective: effective(tenant),
			credentialsProblem: &status.Problem{Reason: v1alpha1.ReasonCredentialsError, Message: "taken", Stalls: true}},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, clamped: metav1.ConditionFalse, reason: v1alpha1.ReasonCredentialsError, wantEffective: true, wantIssuer: "https://id.acme.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := ApplicationStatus(app, c.obs)
			check := func(typ string, want metav1.ConditionStatus) {
				got := meta.FindStatusCondition(st.Conditions, typ)
				if want == "" {
					if got != nil && (typ == v1alpha1.ConditionReconciling || typ == v1alpha1.ConditionStalled) {
						t.Errorf("%s present as %s; kstatus wants it only while true", typ, got.Status)
					}
					return
				}
				if got == nil || got.Status != want || got.ObservedGeneration != 3 {
					t.Errorf("%s = %+v, want %s at generation 3", typ, got, want)
				}
			}
			check(v1alpha1.ConditionReady, c.ready)
			check(v1alpha1.ConditionReconciling, c.reconciling)
			check(v1alpha1.ConditionStalled, c.stalled)
			check(v1alpha1.ConditionLifetimesClamped, c.clamped)
			if r := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); r.Reason != c.reason {
				t.Errorf("Ready reason = %s, want %s", r.Reason, c.reason)
			}
			if (st.Effective != nil) != c.wantEffective {
				t.Errorf("effective = %+v, want present=%v", st.Effective, c.wantEffective)
			}
			if st.IssuerURL != c.wantIssuer || st.ClientID != "web.shop" || st.ObservedGeneration != 3 {
				t.Errorf("issuer %q clientID %q generation %d", st.IssuerURL, st.ClientID, st.ObservedGeneration)
			}
		})
	}
}

// An empty observation (the Tenant not looked up yet) must not panic, and
// is not Ready.
func TestEmptyObservationIsNotReady(t *testing.T) {
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n"}}
	if st := ApplicationStatus(app, ApplicationObservation{}); meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady).Status != metav1.ConditionFalse {
		t.Errorf("empty observation: %+v", st.Conditions)
	}
}

// TestConsentInStatus: status.consent reports what the issuer does —
// the Application's own spec.thirdParty, or the Tenant's spec.consent
// covering it (an Application outside the Tenant's namespace cannot opt
// out of OutsideTenantNamespace).
func TestConsentInStatus(t *testing.T) {
	for _, c := range []struct {
		policy     v1alpha1.ConsentPolicy
		namespace  string
		typ        v1alpha1.ApplicationType
		thirdParty bool
		want       string
	}{
		{"", "shop", v1alpha1.RegularWeb, false, "NotRequired"},
		{"", "shop", v1alpha1.RegularWeb, true, "Required"},
		{v1alpha1.ConsentThirdParty, "id", v1alpha1.SinglePage, true, "Required"},
		{v1alpha1.ConsentOutsideTenantNamespace, "shop", v1alpha1.RegularWeb, false, "Required"},
		{v1alpha1.ConsentOutsideTenantNamespace, "id", v1alpha1.RegularWeb, false, "NotRequired"},
		{v1alpha1.ConsentOutsideTenantNamespace, "id", v1alpha1.Native, true, "Required"},
		{v1alpha1.ConsentAll, "id", v1alpha1.Native, false, "Required"},
		{v1alpha1.ConsentAll, "shop", v1alpha1.MachineToMachine, false, "NotRequired"},
	} {
		tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"},
			Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example", Consent: c.policy}}
		app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: c.namespace},
			Spec: v1alpha1.ApplicationSpec{Type: c.typ, ThirdParty: c.thirdParty, TenantRef: v1alpha1.TenantReference{Name: "acme", Namespace: "id"}}}
		if got := ApplicationStatus(app, ApplicationObservation{tenant: tenant}).Consent; got != c.want {
			t.Errorf("policy %q, %s application in %s, thirdParty %v: consent %q, want %q", c.policy, c.typ, c.namespace, c.thirdParty, got, c.want)
		}
	}
}
