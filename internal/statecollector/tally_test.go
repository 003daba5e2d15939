package statecollector

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

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
