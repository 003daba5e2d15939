package lifetime

import (
	"strings"
	"testing"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func TestRefreshExpiryOf(t *testing.T) {
	r := *forApplication(forTenant(tenant(nil)), app(v1alpha1.RegularWeb, func(s *v1alpha1.ApplicationSpec) {
		s.RefreshToken = &v1alpha1.RefreshTokenSpec{InactivityLifetime: dur("24h"), AbsoluteLifetime: dur("72h"), ReuseInterval: dur("10s")}
	}), nil).Refresh
	grant := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		lastUsed time.Time
		want     time.Time
	}{
		{"fresh grant: inactivity from issue", grant, grant.Add(24 * time.Hour)},
		{"use slides the inactivity deadline", grant.Add(30 * time.Hour), grant.Add(54 * time.Hour)},
		{"rotation never passes the absolute deadline", grant.Add(60 * time.Hour), grant.Add(72 * time.Hour)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.ExpiryOf(grant, c.lastUsed); !got.Equal(c.want) {
				t.Errorf("ExpiryOf = %v, want %v", got, c.want)
			}
		})
	}
	rotated := grant.Add(time.Hour)
	for _, c := range []struct {
		after time.Duration
		want  bool
	}{{0, true}, {9 * time.Second, true}, {10 * time.Second, false}, {time.Minute, false}} {
		if got := r.ReuseTolerated(rotated, rotated.Add(c.after)); got != c.want {
			t.Errorf("ReuseTolerated %v after rotation = %v, want %v", c.after, got, c.want)
		}
	}
	// The default reuseInterval, 10s, tolerates a retry after a lost
	// response and nothing later.
	def := *forApplication(forTenant(tenant(nil)), app(v1alpha1.SinglePage, nil), nil).Refresh
	if !def.ReuseTolerated(rotated, rotated.Add(9*time.Second)) || def.ReuseTolerated(rotated, rotated.Add(10*time.Second)) {
		t.Errorf("default reuseInterval %v: want a retry tolerated for 10s, exclusive", def.ReuseInterval.Duration)
	}
	if !strings.HasSuffix(def.ReuseInterval.BoundBy, "/spec.refreshToken.reuseInterval (default)") {
		t.Errorf("default reuseInterval bound by %q", def.ReuseInterval.BoundBy)
	}
	// Without rotation nothing is reused: status shows 0s, bound by rotation.
	off := *forApplication(forTenant(tenant(nil)), app(v1alpha1.RegularWeb, func(s *v1alpha1.ApplicationSpec) {
		s.RefreshToken = &v1alpha1.RefreshTokenSpec{Rotation: v1alpha1.RotationDisabled}
	}), nil).Refresh
	if off.ReuseInterval.Duration != 0 || !strings.HasSuffix(off.ReuseInterval.BoundBy, "spec.refreshToken.rotation") {
		t.Errorf("reuseInterval without rotation = %+v", off.ReuseInterval)
	}
}
