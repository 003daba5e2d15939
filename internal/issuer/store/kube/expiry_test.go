package kube

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// One vocabulary: the backend describes every store kind, in store order.
func TestKindsFollowTheStore(t *testing.T) {
	if len(Kinds) != len(store.Kinds) {
		t.Fatalf("%d kinds, the store has %d", len(Kinds), len(store.Kinds))
	}
	for i, k := range Kinds {
		if k.Kind != store.Kinds[i] {
			t.Errorf("Kinds[%d] is %s, want %s", i, k.Kind, store.Kinds[i])
		}
	}
}

// Which records collection may delete, and since when: the same rules
// the issuer applies (deadlines exclusive, session deadlines from the
// settings in force now).
func TestStateRecordsClassify(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	in := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(d)) }
	tenant := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "id"}, Spec: v1alpha1.TenantSpec{
		Session: &v1alpha1.SessionSpec{InactivityTimeout: &metav1.Duration{Duration: time.Hour}, AbsoluteTimeout: &metav1.Duration{Duration: 8 * time.Hour}}}}
	eff := lifetime.ForTenant(tenant.Name, tenant.Spec)
	deadline := func(t lifetime.Tenant) SessionDeadline {
		return func(authTime, lastActivity time.Time) time.Time {
			return t.Session.DeadlinesOf(authTime, lastActivity).Idle
		}
	}

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
	for _, r := range Kinds[0].Classify(sessions, deadline(eff), now) {
		w := want[r.Object.GetName()]
		if !r.ExpiredAt.Equal(w.expiredAt) || r.Counted != w.counted {
			t.Errorf("session %s: expired at %v counted %v, want %v %v", r.Object.GetName(), r.ExpiredAt, r.Counted, w.expiredAt, w.counted)
		}
	}

	// Shortening the inactivity timeout ends existing sessions at once.
	shorter := tenant.DeepCopy()
	shorter.Spec.Session.InactivityTimeout = &metav1.Duration{Duration: 30 * time.Minute}
	if r := Kinds[0].Classify(&statev1alpha1.SessionList{Items: sessions.Items[:1]}, deadline(lifetime.ForTenant(shorter.Name, shorter.Spec)), now)[0]; r.ExpiredAt.IsZero() {
		t.Error("a session idle for 59m survives a 30m inactivity timeout")
	}

	codes := &statev1alpha1.AuthorizationCodeList{Items: []statev1alpha1.AuthorizationCode{
		{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}, Spec: statev1alpha1.AuthorizationCodeSpec{ExpiresAt: in(time.Second)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "at-deadline"}, Spec: statev1alpha1.AuthorizationCodeSpec{ExpiresAt: in(0)}},
	}}
	rs := Kinds[1].Classify(codes, deadline(eff), now)
	if !rs[0].ExpiredAt.IsZero() || !rs[1].ExpiredAt.Equal(now) || rs[0].Counted {
		t.Errorf("codes: %+v", rs)
	}

	revoked := ago(time.Minute)
	families := &statev1alpha1.RefreshFamilyList{Items: []statev1alpha1.RefreshFamily{
		{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Spec: statev1alpha1.RefreshFamilySpec{ExpiresAt: in(time.Hour)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "revoked"}, Spec: statev1alpha1.RefreshFamilySpec{ExpiresAt: in(time.Hour), RevokedAt: &revoked}},
		{ObjectMeta: metav1.ObjectMeta{Name: "expired"}, Spec: statev1alpha1.RefreshFamilySpec{ExpiresAt: ago(time.Hour)}},
	}}
	rs = Kinds[2].Classify(families, deadline(eff), now)
	if !rs[0].Counted || !rs[0].ExpiredAt.IsZero() {
		t.Errorf("a live family must count: %+v", rs[0])
	}
	if rs[1].Counted || !rs[1].ExpiredAt.IsZero() {
		t.Errorf("a revoked family is kept until it expires (replays are recognised) but is not live: %+v", rs[1])
	}
	if rs[2].Counted || !rs[2].ExpiredAt.Equal(now1h) {
		t.Errorf("an expired family: %+v", rs[2])
	}

	tokens := &statev1alpha1.RevokedTokenList{Items: []statev1alpha1.RevokedToken{
		{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: statev1alpha1.RevokedTokenSpec{ExpiresAt: ago(time.Hour)}},
	}}
	if rs := Kinds[3].Classify(tokens, deadline(eff), now); !rs[0].ExpiredAt.Equal(now1h) {
		t.Errorf("revoked token past its expiry: %+v", rs[0])
	}
}
