package tenant

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestTenantAdvisories: a directory mixing bcrypt costs names the users
// whose cost differs from most (security review N17); an exposed issuer
// without trusted proxies says what the login limits then count; a
// uniform directory and a direct issuer say nothing.
func TestTenantAdvisories(t *testing.T) {
	hash := func(cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	h10, h11 := hash(10), hash(11)
	uniform := []issuerconfig.User{{Username: "a", PasswordHash: h10}, {Username: "b", PasswordHash: h10}}
	if got := tenantAdvisories(v1alpha1.TenantSpec{}, uniform); len(got) != 0 {
		t.Errorf("uniform directory, no exposure: %v", got)
	}
	mixed := append(uniform, issuerconfig.User{Username: "admin", PasswordHash: h11})
	got := tenantAdvisories(v1alpha1.TenantSpec{}, mixed)
	if len(got) != 1 || got[0].Reason != AdvisoryMixedBcryptCosts || !strings.Contains(got[0].Message, "admin (cost 11)") ||
		strings.Contains(got[0].Message, h11) || !strings.Contains(got[0].Message, "other than 10") {
		t.Errorf("mixed costs: %+v", got)
	}
	exposed := v1alpha1.TenantSpec{Exposure: &v1alpha1.ExposureSpec{Ingress: &v1alpha1.IngressExposure{ClassName: "nginx"}}}
	got = tenantAdvisories(exposed, uniform)
	if len(got) != 1 || got[0].Reason != AdvisoryNoTrustedProxies {
		t.Errorf("exposed without trusted proxies: %+v", got)
	}
	exposed.TrustedProxies = []string{"10.244.0.0/16"}
	if got := tenantAdvisories(exposed, uniform); len(got) != 0 {
		t.Errorf("exposed with trusted proxies: %+v", got)
	}
}
