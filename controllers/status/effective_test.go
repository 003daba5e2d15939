package status

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func TestNextEffective(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	api := func(std, browser int64) *v1alpha1.APIEffective {
		return &v1alpha1.APIEffective{TokenLifetime: v1alpha1.EffectiveLifetime{Seconds: std}, TokenLifetimeForBrowserFlows: v1alpha1.EffectiveLifetime{Seconds: browser}}
	}
	longest := func(e *v1alpha1.APIEffective) time.Duration {
		return time.Duration(max(e.TokenLifetime.Seconds, e.TokenLifetimeForBrowserFlows.Seconds)) * time.Second
	}
	since := metav1.NewTime(t0)
	served := EffectiveState[v1alpha1.APIEffective]{Effective: api(7200, 600), Since: &since}
	now := t0.Add(time.Hour)

	// Pending: the old values stay, they are what the issuer still mints.
	got := NextEffective(served, api(3600, 600), true, now, longest)
	if got.Effective.TokenLifetime.Seconds != 7200 || !got.Since.Equal(&since) {
		t.Errorf("pending must keep the served values: %+v", got)
	}
	// First time, pending: nothing is effective yet.
	if got := NextEffective(EffectiveState[v1alpha1.APIEffective]{}, api(3600, 600), true, now, longest); got.Effective != nil {
		t.Errorf("nothing served yet: %+v", got)
	}
	// Served and changed: since moves; old 2h tokens live until now + 2h.
	got = NextEffective(served, api(3600, 600), false, now, longest)
	if got.Effective.TokenLifetime.Seconds != 3600 || !got.Since.Time.Equal(now) || !got.PreviousValidUntil.Time.Equal(now.Add(2*time.Hour)) {
		t.Errorf("served change: %+v since %v until %v", got.Effective, got.Since, got.PreviousValidUntil)
	}
	// Served and unchanged: nothing moves.
	again := NextEffective(got, api(3600, 600), false, now.Add(time.Hour), longest)
	if !again.Since.Equal(got.Since) || !again.PreviousValidUntil.Equal(got.PreviousValidUntil) {
		t.Errorf("an unchanged matrix must keep its timestamps: %+v", again)
	}
	// First time served: since is now, no previous tokens.
	first := NextEffective(EffectiveState[v1alpha1.APIEffective]{}, api(3600, 600), false, now, longest)
	if !first.Since.Time.Equal(now) || first.PreviousValidUntil != nil {
		t.Errorf("first serve: %+v", first)
	}
}
