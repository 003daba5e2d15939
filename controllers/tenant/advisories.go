package tenant

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Tenant advisory reasons: valid settings a reviewer should see.
const (
	// AdvisoryMixedBcryptCosts: the user directory mixes bcrypt costs, so
	// the users whose cost differs from most can be told apart by how
	// long a wrong password takes (security review N17).
	AdvisoryMixedBcryptCosts = "MixedBcryptCosts"
	// AdvisoryNoTrustedProxies: spec.exposure routes every user through
	// a proxy, but spec.trustedProxies is empty, so the per-address login
	// limits count all users at the proxy's address.
	AdvisoryNoTrustedProxies = "NoTrustedProxies"
)

// tenantAdvisories lists what a reviewer of the Tenant should know about
// its users and exposure. Pure: the directory is the one just read.
func tenantAdvisories(spec v1alpha1.TenantSpec, users []issuerconfig.User) []v1alpha1.Advisory {
	var out []v1alpha1.Advisory
	if a := mixedCosts(users); a != nil {
		out = append(out, *a)
	}
	if spec.Exposure != nil && len(spec.TrustedProxies) == 0 {
		out = append(out, v1alpha1.Advisory{Reason: AdvisoryNoTrustedProxies,
			Message: "spec.exposure routes users through an ingress controller or Gateway, and spec.trustedProxies is empty: the login page counts every user at the proxy's address, so the per-address limits on password guessing apply to all of them together. List the addresses the proxies connect from in spec.trustedProxies (docs/exposure.md)"})
	}
	return out
}

// mixedCosts names the users whose bcrypt cost is not the one most users
// have: an unknown username is compared at the common cost, so a wrong
// password of theirs takes measurably longer or shorter than one of an
// unknown user, which tells an attacker they exist.
func mixedCosts(users []issuerconfig.User) *v1alpha1.Advisory {
	byCost := map[int][]string{}
	for _, u := range users {
		if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil {
			byCost[cost] = append(byCost[cost], u.Username)
		}
	}
	if len(byCost) < 2 {
		return nil
	}
	common, most := 0, -1
	for cost, names := range byCost {
		if len(names) > most || (len(names) == most && cost > common) {
			common, most = cost, len(names)
		}
	}
	var odd []string
	for cost, names := range byCost {
		if cost != common {
			for _, n := range names {
				odd = append(odd, fmt.Sprintf("%s (cost %d)", n, cost))
			}
		}
	}
	sort.Strings(odd)
	shown := odd
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(odd)-5))
	}
	return &v1alpha1.Advisory{Reason: AdvisoryMixedBcryptCosts,
		Message: fmt.Sprintf("%d users have a bcrypt cost other than %d, the cost of most: %s. A wrong password for them takes a different time than one for an unknown user, which tells an attacker these accounts exist. Rehash them at cost %d (htpasswd -nbBC %d user password)",
			len(odd), common, strings.Join(shown, ", "), common, common)}
}
