package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// Which records the collector may delete, and since when: the same rules
// the issuer applies (deadlines exclusive, session deadlines from the
// settings in force now).
func TestStateRecordsClassify(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	in := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(d)) }
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"}, Spec: v1alpha1.TenantSpec{
		Session: &v1alpha1.SessionSpec{InactivityTimeout: &metav1.Duration{Duration: time.Hour}, AbsoluteTimeout: &metav1.Duration{Duration: 8 * time.Hour}}}}
	eff := lifetime.ForTenant(tenant)

	session := func(name string, auth, last metav1.Time) statev1alpha1.Session {
		return statev1alpha1.Session{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: statev1alpha1.SessionSpec{AuthTime: auth, LastActivity: last}}
	}
	sessions := &statev1alpha1.SessionList{Items: []statev1alpha1.Session{
		session("active", ago(2*time.Hour), ago(59*time.Minute)),
		session("idle-exactly", ago(2*time.Hour), ago(time.Hour)),
		session("idle-long-ago", ago(7*time.Hour), ago(6*time.Hour)),
		session("absolute", ago(8*time.Hour), ago(time.Minute)),
	}}
	now1h := now.Add(-time.Hour)
	want := map[string]struct {
		expiredAt time.Time
		counted   bool
	}{
		"active":        {counted: true},
		"idle-exactly":  {expiredAt: now},
		"idle-long-ago": {expiredAt: now.Add(-5 * time.Hour)},
		"absolute":      {expiredAt: now}, // the idle deadline is capped at the absolute one
	}
	for _, r := range stateKinds[0].records(sessions, eff, now) {
		w := want[r.obj.GetName()]
		if !r.expiredAt.Equal(w.expiredAt) || r.counted != w.counted {
			t.Errorf("session %s: expired at %v counted %v, want %v %v", r.obj.GetName(), r.expiredAt, r.counted, w.expiredAt, w.counted)
		}
	}

	// Shortening the inactivity timeout ends existing sessions at once.
	shorter := tenant.DeepCopy()
	shorter.Spec.Session.InactivityTimeout = &metav1.Duration{Duration: 30 * time.Minute}
	if r := stateKinds[0].records(&statev1alpha1.SessionList{Items: sessions.Items[:1]}, lifetime.ForTenant(shorter), now)[0]; r.expiredAt.IsZero() {
		t.Error("a session idle for 59m survives a 30m inactivity timeout")
	}

	codes := &statev1alpha1.AuthorizationCodeList{Items: []statev1alpha1.AuthorizationCode{
		{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}, Spec: statev1alpha1.AuthorizationCodeSpec{ExpiresAt: in(time.Second)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "at-deadline"}, Spec: statev1alpha1.AuthorizationCodeSpec{ExpiresAt: in(0)}},
	}}
	rs := stateKinds[1].records(codes, eff, now)
	if !rs[0].expiredAt.IsZero() || !rs[1].expiredAt.Equal(now) || rs[0].counted {
		t.Errorf("codes: %+v", rs)
	}

	revoked := ago(time.Minute)
	families := &statev1alpha1.RefreshFamilyList{Items: []statev1alpha1.RefreshFamily{
		{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Spec: statev1alpha1.RefreshFamilySpec{ExpiresAt: in(time.Hour)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "revoked"}, Spec: statev1alpha1.RefreshFamilySpec{ExpiresAt: in(time.Hour), RevokedAt: &revoked}},
		{ObjectMeta: metav1.ObjectMeta{Name: "expired"}, Spec: statev1alpha1.RefreshFamilySpec{ExpiresAt: ago(time.Hour)}},
	}}
	rs = stateKinds[2].records(families, eff, now)
	if !rs[0].counted || !rs[0].expiredAt.IsZero() {
		t.Errorf("a live family must count: %+v", rs[0])
	}
	if rs[1].counted || !rs[1].expiredAt.IsZero() {
		t.Errorf("a revoked family is kept until it expires (replays are recognised) but is not live: %+v", rs[1])
	}
	if rs[2].counted || !rs[2].expiredAt.Equal(now1h) {
		t.Errorf("an expired family: %+v", rs[2])
	}

	tokens := &statev1alpha1.RevokedTokenList{Items: []statev1alpha1.RevokedToken{
		{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: statev1alpha1.RevokedTokenSpec{ExpiresAt: ago(time.Hour)}},
	}}
	if rs := stateKinds[3].records(tokens, eff, now); !rs[0].expiredAt.Equal(now1h) {
		t.Errorf("revoked token past its expiry: %+v", rs[0])
	}
}

func TestTallyStatus(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 500, time.UTC)
	p := tally{
		{live: 5, counted: 5, awaiting: 1, collected: 10, oldestExpired: now.Add(-90 * time.Second)},
		{live: 2, awaiting: 3, collected: 1, oldestExpired: now.Add(-time.Hour)},
		{live: 4, counted: 3, collected: 2},
		{},
	}
	st := p.status(now)
	if st.Sessions != 5 || st.RefreshFamilies != 3 || st.AwaitingCollection != 4 || st.Collected != 13 {
		t.Errorf("counts = %+v", st)
	}
	if st.OldestExpiredAge.Duration != time.Hour || !st.LastCollectedAt.Time.Equal(now.Truncate(time.Second)) {
		t.Errorf("oldest expired age %v at %v", st.OldestExpiredAge.Duration, st.LastCollectedAt)
	}
	if empty := (&tally{}).status(now); empty.OldestExpiredAge.Duration != 0 {
		t.Errorf("no backlog, but oldest expired age %v", empty.OldestExpiredAge.Duration)
	}
}

// A Tenant is woken (and its status written) when a count changed or the
// backlog aged by a minute, not for the pass time alone.
func TestStateChanged(t *testing.T) {
	base := v1alpha1.StateStatus{Sessions: 3, RefreshFamilies: 2, AwaitingCollection: 1, Collected: 4,
		OldestExpiredAge: metav1.Duration{Duration: 10 * time.Second}, LastCollectedAt: &metav1.Time{Time: time.Unix(100, 0)}}
	cases := []struct {
		name   string
		mutate func(*v1alpha1.StateStatus)
		want   bool
	}{
		{"only the pass time", func(s *v1alpha1.StateStatus) { s.LastCollectedAt = &metav1.Time{Time: time.Unix(130, 0)} }, false},
		{"backlog 30s older", func(s *v1alpha1.StateStatus) { s.OldestExpiredAge.Duration += 30 * time.Second }, false},
		{"backlog a minute older", func(s *v1alpha1.StateStatus) { s.OldestExpiredAge.Duration += time.Minute }, true},
		{"backlog gone", func(s *v1alpha1.StateStatus) { s.AwaitingCollection, s.OldestExpiredAge.Duration = 0, 0 }, true},
		{"a new session", func(s *v1alpha1.StateStatus) { s.Sessions++ }, true},
		{"a family revoked", func(s *v1alpha1.StateStatus) { s.RefreshFamilies-- }, true},
		{"collected other numbers", func(s *v1alpha1.StateStatus) { s.Collected = 0 }, true},
	}
	for _, c := range cases {
		now := *base.DeepCopy()
		c.mutate(&now)
		if got := stateChanged(base, now); got != c.want {
			t.Errorf("%s: changed = %v, want %v", c.name, got, c.want)
		}
	}
}

// Status shows the collector's count with the Kubernetes store, keeps the
// last published one until a new leader has counted, and shows nothing
// for the Memory store.
func TestStateStatus(t *testing.T) {
	last := &v1alpha1.StateStatus{Sessions: 7}
	fresh := &v1alpha1.StateStatus{Sessions: 9}
	tenant := &v1alpha1.Tenant{Status: v1alpha1.TenantStatus{State: last}}
	kube := lifetime.Tenant{StateType: v1alpha1.StateKubernetes}
	if got := stateStatus(tenant, tenantObservation{effective: kube, state: fresh}); got.Sessions != 9 {
		t.Errorf("fresh count not shown: %+v", got)
	}
	if got := stateStatus(tenant, tenantObservation{effective: kube}); got == nil || got.Sessions != 7 || got == last {
		t.Errorf("last count not kept (as a copy): %+v", got)
	}
	if got := stateStatus(tenant, tenantObservation{effective: lifetime.Tenant{StateType: v1alpha1.StateMemory}, state: fresh}); got != nil {
		t.Errorf("Memory store: %+v, want no state status", got)
	}
}
