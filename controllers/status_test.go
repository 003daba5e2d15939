package controllers

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
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
		e := lifetime.ForApplication(lifetime.ForTenant(t), app, nil)
		return &e
	}

	cases := []struct {
		name               string
		obs                applicationObservation
		ready, reconciling metav1.ConditionStatus
		stalled, clamped   metav1.ConditionStatus
		reason             string
		wantEffective      bool
		wantIssuer         string
	}{
		{name: "tenant missing", obs: applicationObservation{tenantProblem: &problem{reason: v1alpha1.ReasonTenantNotFound, message: "gone"}},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, reason: v1alpha1.ReasonTenantNotFound},
		{name: "namespace refused", obs: applicationObservation{tenantProblem: &problem{reason: v1alpha1.ReasonNamespaceNotAllowed, message: "no", stalls: true}},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, reason: v1alpha1.ReasonNamespaceNotAllowed},
		{name: "api missing", obs: applicationObservation{tenant: tenant, apiProblem: &problem{reason: v1alpha1.ReasonAPINotFound, message: "x"}},
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, reason: v1alpha1.ReasonAPINotFound, wantIssuer: "https://id.acme.example"},
		{name: "policy reject", obs: applicationObservation{tenant: rejecting, effective: effective(rejecting)},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, clamped: metav1.ConditionFalse, reason: v1alpha1.ReasonPolicyViolation, wantIssuer: "https://id.acme.example"},
		{name: "clamped but ready", obs: applicationObservation{tenant: clamping, effective: effective(clamping), credentialsSecret: "web-oidc-client"},
			ready: metav1.ConditionTrue, clamped: metav1.ConditionTrue, reason: v1alpha1.ReasonReady, wantEffective: true, wantIssuer: "https://id.acme.example"},
		{name: "credentials blocked", obs: applicationObservation{tenant: tenant, effective: effective(tenant),
			credentialsProblem: &problem{reason: v1alpha1.ReasonCredentialsError, message: "taken", stalls: true}},
			ready: metav1.ConditionFalse, stalled: metav1.ConditionTrue, clamped: metav1.ConditionFalse, reason: v1alpha1.ReasonCredentialsError, wantEffective: true, wantIssuer: "https://id.acme.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := applicationStatus(app, c.obs)
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

func TestReadinessKeepsTransitionTime(t *testing.T) {
	var conds []metav1.Condition
	setKstatusConditions(&conds, 1, waitingFor("TenantNotFound", "gone"))
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	conds[0].LastTransitionTime = then
	setKstatusConditions(&conds, 2, waitingFor("TenantNotFound", "still gone"))
	ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if !ready.LastTransitionTime.Equal(&then) || ready.Message != "still gone" || ready.ObservedGeneration != 2 {
		t.Errorf("unchanged status must keep lastTransitionTime: %+v", ready)
	}
	setKstatusConditions(&conds, 2, readyWith("fine"))
	if meta.FindStatusCondition(conds, v1alpha1.ConditionReconciling) != nil {
		t.Error("Reconciling must be removed once ready")
	}
}

func TestTenantAdmits(t *testing.T) {
	tenant := func(a *v1alpha1.AllowedNamespaces) *v1alpha1.Tenant {
		return &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"}, Spec: v1alpha1.TenantSpec{AllowedNamespaces: a}}
	}
	sel := &v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSelector,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}}
	cases := []struct {
		name   string
		tenant *v1alpha1.Tenant
		ns     string
		labels map[string]string
		want   bool
	}{
		{"default admits own namespace", tenant(nil), "id", nil, true},
		{"default refuses others", tenant(nil), "shop", nil, false},
		{"Same refuses others", tenant(&v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSame}), "shop", nil, false},
		{"All admits others", tenant(&v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}), "shop", nil, true},
		{"Selector admits matching", tenant(sel), "shop", map[string]string{"team": "shop"}, true},
		{"Selector refuses non-matching", tenant(sel), "shop", map[string]string{"team": "ads"}, false},
		{"Selector always admits own namespace", tenant(sel), "id", nil, true},
	}
	for _, c := range cases {
		got, err := tenantAdmits(c.tenant, c.ns, c.labels)
		if err != nil || got != c.want {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestTransientErrorKeepsObservedStatus(t *testing.T) {
	conds := []metav1.Condition{}
	setKstatusConditions(&conds, 4, stalledBy(v1alpha1.ReasonPolicyViolation, "too long"))
	markTransient(&conds, 5, errors.New("etcd leader changed"))
	ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if ready.Status != metav1.ConditionUnknown || ready.Reason != v1alpha1.ReasonReconcileError || ready.Message != "Retrying after an error: etcd leader changed" {
		t.Errorf("Ready = %+v", ready)
	}
	if meta.FindStatusCondition(conds, v1alpha1.ConditionStalled) != nil || meta.FindStatusCondition(conds, v1alpha1.ConditionReconciling) == nil {
		t.Errorf("a transient error is progress, not a stall: %+v", conds)
	}
	// An empty observation (the Tenant not looked up yet) must not panic.
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n"}}
	if st := applicationStatus(app, applicationObservation{}); meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady).Status != metav1.ConditionFalse {
		t.Errorf("empty observation: %+v", st.Conditions)
	}
	api := &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n"}}
	if st := apiStatus(api, apiObservation{}); meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady).Status != metav1.ConditionFalse {
		t.Errorf("empty observation: %+v", st.Conditions)
	}
}
