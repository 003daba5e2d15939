// Package audience decides which API of a Tenant holds each audience
// ("aud" claim). It is pure: the Tenant's rules and remembered claims and
// the APIs that exist go in; a verdict per API and the claims to remember
// come out. The Tenant reconciler (which serves the APIs and records the
// claims) and the API and Application reconcilers (which report status)
// call the same function over the same inputs, so they agree.
//
// The rules, in order:
//
//  1. A Tenant rule (spec.audiences) whose prefix is the longest to match
//     an audience names the only namespaces whose APIs may use it.
//  2. A claim (status.audienceClaims) binds an audience to the namespace
//     that first used it. It outlives the API: a recreated API gets its
//     audience back, and a newcomer in another namespace is refused, even
//     while no API uses the audience. A rule that does not list the
//     claim's namespace ends the claim: handing an audience over is the
//     Tenant's decision, never a matter of being first.
//  3. Among the APIs allowed to use an audience, the oldest holds it.
package audience

import (
	"cmp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// MaxUnusedPerNamespace is how many claims no API uses any more a namespace
// keeps; beyond it, those unused longest are forgotten. Only the namespace's
// own churn can push its claims out, so another namespace cannot make it
// forget an audience.
const MaxUnusedPerNamespace = 16

// API is what the decision needs to know about one API.
type API struct {
	Key      types.NamespacedName
	Audience string
	Created  time.Time
}

// Outcome says whether an API holds its audience.
type Outcome int

const (
	// Undecided: the API was not among those decided (not admitted by the
	// Tenant, or being deleted).
	Undecided Outcome = iota
	// Held: the API holds its audience and may be served.
	Held
	// NotAllowed: a Tenant rule reserves the audience for other namespaces.
	NotAllowed
	// HeldByAPI: another (older) API holds the audience.
	HeldByAPI
	// ClaimedByNamespace: another namespace holds the audience although
	// none of its APIs uses it now.
	ClaimedByNamespace
)

// Verdict is the decision for one API.
type Verdict struct {
	Outcome Outcome
	// Rule is the deciding Tenant rule, if any.
	Rule *v1alpha1.AudienceRule
	// Holder is the API holding the audience (HeldByAPI).
	Holder types.NamespacedName
	// Claim is the claim of the namespace holding the audience
	// (ClaimedByNamespace).
	Claim *v1alpha1.AudienceClaim
}

// Decision is the outcome for every API and the claims to remember.
type Decision struct {
	Verdicts map[types.NamespacedName]Verdict
	Claims   []v1alpha1.AudienceClaim
}

// Decide applies the rules to apis (the APIs of one Tenant from namespaces
// the Tenant admits). now stamps new claims and claims that just fell out
// of use; verdicts never depend on it. Deciding again over the returned
// claims gives the same verdicts, so a reconciler that reads the claims the
// Tenant recorded agrees with the Tenant that recorded them.
func Decide(rules []v1alpha1.AudienceRule, claims []v1alpha1.AudienceClaim, apis []API, now time.Time) Decision {
	stamp := metav1.NewTime(now.Truncate(time.Second))
	d, forgot := decideOnce(rules, claims, apis, stamp)
	if forgot {
		// A claim forgotten for good no longer stands in anyone's way:
		// decide again without it, so the verdicts are those of the
		// claims returned.
		d, _ = decideOnce(rules, d.Claims, apis, stamp)
	}
	return d
}

// decideOnce is one pass of Decide; forgot says a claim was dropped for
// lack of room (MaxUnusedPerNamespace).
func decideOnce(rules []v1alpha1.AudienceRule, claims []v1alpha1.AudienceClaim, apis []API, stamp metav1.Time) (Decision, bool) {
	d := Decision{Verdicts: make(map[types.NamespacedName]Verdict, len(apis))}

	// Claims a rule no longer allows end here.
	held := map[string]v1alpha1.AudienceClaim{}
	for _, c := range claims {
		if r := RuleFor(rules, c.Audience); r != nil && !slices.Contains(r.Namespaces, c.Namespace) {
			continue
		}
		if _, dup := held[c.Audience]; !dup {
			held[c.Audience] = c
		}
	}

	byAudience := map[string][]API{}
	for _, a := range apis {
		byAudience[a.Audience] = append(byAudience[a.Audience], a)
	}
	next := map[string]v1alpha1.AudienceClaim{}
	for aud, group := range byAudience {
		slices.SortFunc(group, older)
		rule := RuleFor(rules, aud)
		claim, claimed := held[aud]
		var winner *API
		var waiting []types.NamespacedName
		for i := range group {
			a := &group[i]
			switch {
			case rule != nil && !slices.Contains(rule.Namespaces, a.Key.Namespace):
				d.Verdicts[a.Key] = Verdict{Outcome: NotAllowed, Rule: rule}
			case claimed && claim.Namespace != a.Key.Namespace:
				// Whether an API of the claim's namespace uses the
				// audience is known once the whole group is seen.
				waiting = append(waiting, a.Key)
			case winner == nil:
				winner = a
				d.Verdicts[a.Key] = Verdict{Outcome: Held, Rule: rule}
			default:
				d.Verdicts[a.Key] = Verdict{Outcome: HeldByAPI, Rule: rule, Holder: winner.Key}
			}
		}
		for _, key := range waiting {
			if winner != nil {
				// Name the live holder rather than the claim, so the
				// verdict does not depend on whether the claim is recorded
				// yet.
				d.Verdicts[key] = Verdict{Outcome: HeldByAPI, Rule: rule, Holder: winner.Key}
			} else {
				// Claim is filled in below, as it will be recorded.
				d.Verdicts[key] = Verdict{Outcome: ClaimedByNamespace, Rule: rule}
			}
		}
		if winner == nil {
			continue
		}
		c := v1alpha1.AudienceClaim{Audience: aud, Namespace: winner.Key.Namespace, API: winner.Key.Name, ClaimedAt: stamp}
		if claimed && claim.Namespace == winner.Key.Namespace {
			c.ClaimedAt = claim.ClaimedAt
		}
		next[aud] = c
	}
	// Claims nobody uses now are kept, marked since when.
	for aud, c := range held {
		if _, used := next[aud]; used {
			continue
		}
		c.API = ""
		if c.UnusedSince == nil {
			c.UnusedSince = &stamp
		}
		next[aud] = c
	}
	d.Claims = forgetOldestUnused(next)
	audienceOf := make(map[types.NamespacedName]string, len(apis))
	for _, a := range apis {
		audienceOf[a.Key] = a.Audience
	}
	for k, v := range d.Verdicts {
		if v.Outcome == ClaimedByNamespace {
			c := next[audienceOf[k]]
			v.Claim = &c
			d.Verdicts[k] = v
		}
	}
	return d, len(d.Claims) < len(next)
}

// forgetOldestUnused keeps at most MaxUnusedPerNamespace unused claims per
// namespace and returns every claim sorted by audience.
func forgetOldestUnused(claims map[string]v1alpha1.AudienceClaim) []v1alpha1.AudienceClaim {
	unused := map[string][]v1alpha1.AudienceClaim{}
	var out []v1alpha1.AudienceClaim
	for _, c := range claims {
		if c.UnusedSince == nil {
			out = append(out, c)
			continue
		}
		unused[c.Namespace] = append(unused[c.Namespace], c)
	}
	for _, cs := range unused {
		// Most recently unused first; ties by audience.
		slices.SortFunc(cs, func(a, b v1alpha1.AudienceClaim) int {
			if c := b.UnusedSince.Compare(a.UnusedSince.Time); c != 0 {
				return c
			}
			return strings.Compare(a.Audience, b.Audience)
		})
		out = append(out, cs[:min(len(cs), MaxUnusedPerNamespace)]...)
	}
	slices.SortFunc(out, func(a, b v1alpha1.AudienceClaim) int { return strings.Compare(a.Audience, b.Audience) })
	return out
}

// RuleFor returns the rule with the longest prefix matching audience, or
// nil when none does.
func RuleFor(rules []v1alpha1.AudienceRule, audience string) *v1alpha1.AudienceRule {
	var best *v1alpha1.AudienceRule
	for i := range rules {
		r := &rules[i]
		if strings.HasPrefix(audience, r.Prefix) && (best == nil || len(r.Prefix) > len(best.Prefix)) {
			best = r
		}
	}
	return best
}

// older orders APIs by creation, then by key, so exactly one of two APIs
// with one audience is older.
func older(a, b API) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.Key.String(), b.Key.String())
}
