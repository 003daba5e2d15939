package audience

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func api(ns, name, aud string, createdMinutes int) API {
	return API{Key: types.NamespacedName{Namespace: ns, Name: name}, Audience: aud, Created: t0.Add(time.Duration(createdMinutes) * time.Minute)}
}

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func at(minutes int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(minutes) * time.Minute)) }

func unused(aud, ns string, claimed, since int) v1alpha1.AudienceClaim {
	s := at(since)
	return v1alpha1.AudienceClaim{Audience: aud, Namespace: ns, ClaimedAt: at(claimed), UnusedSince: &s}
}

func used(aud, ns, name string, claimed int) v1alpha1.AudienceClaim {
	return v1alpha1.AudienceClaim{Audience: aud, Namespace: ns, API: name, ClaimedAt: at(claimed)}
}

const billing = "https://billing.example.com"

func TestDecide(t *testing.T) {
	now := t0.Add(time.Hour)
	cases := []struct {
		name        string
		rules       []v1alpha1.AudienceRule
		claims      []v1alpha1.AudienceClaim
		apis        []API
		want        map[types.NamespacedName]Outcome
		claimsAfter []v1alpha1.AudienceClaim
	}{{
		name:        "first namespace to use an audience holds it",
		apis:        []API{api("payments", "billing", billing, 1), api("shop", "squat", billing, 2)},
		want:        map[types.NamespacedName]Outcome{key("payments", "billing"): Held, key("shop", "squat"): HeldByAPI},
		claimsAfter: []v1alpha1.AudienceClaim{used(billing, "payments", "billing", 60)},
	}, {
		// The GitOps prune: billing is gone for a moment and the squatter,
		// now the only API with that audience, still does not get it.
		name:        "a claim outlives its API",
		claims:      []v1alpha1.AudienceClaim{used(billing, "payments", "billing", 1)},
		apis:        []API{api("shop", "squat", billing, 2)},
		want:        map[types.NamespacedName]Outcome{key("shop", "squat"): ClaimedByNamespace},
		claimsAfter: []v1alpha1.AudienceClaim{unused(billing, "payments", 1, 60)},
	}, {
		name:        "the recreated API gets its audience back though the squatter is older",
		claims:      []v1alpha1.AudienceClaim{unused(billing, "payments", 1, 30)},
		apis:        []API{api("shop", "squat", billing, 2), api("payments", "billing", billing, 40)},
		want:        map[types.NamespacedName]Outcome{key("payments", "billing"): Held, key("shop", "squat"): HeldByAPI},
		claimsAfter: []v1alpha1.AudienceClaim{used(billing, "payments", "billing", 1)},
	}, {
		name:        "within the claiming namespace the older API holds it, the next one takes over",
		claims:      []v1alpha1.AudienceClaim{used(billing, "payments", "billing", 1)},
		apis:        []API{api("payments", "billing-v2", billing, 5)},
		want:        map[types.NamespacedName]Outcome{key("payments", "billing-v2"): Held},
		claimsAfter: []v1alpha1.AudienceClaim{used(billing, "payments", "billing-v2", 1)},
	}, {
		name:        "a Tenant rule hands the audience to another namespace",
		rules:       []v1alpha1.AudienceRule{{Prefix: billing, Namespaces: []string{"finance"}}},
		claims:      []v1alpha1.AudienceClaim{used(billing, "payments", "billing", 1)},
		apis:        []API{api("payments", "billing", billing, 1), api("finance", "billing", billing, 50)},
		want:        map[types.NamespacedName]Outcome{key("payments", "billing"): NotAllowed, key("finance", "billing"): Held},
		claimsAfter: []v1alpha1.AudienceClaim{used(billing, "finance", "billing", 60)},
	}, {
		name: "the longest matching prefix decides",
		rules: []v1alpha1.AudienceRule{
			{Prefix: "https://api.example.com/", Namespaces: []string{"platform"}},
			{Prefix: "https://api.example.com/billing", Namespaces: []string{"payments"}},
		},
		apis: []API{
			api("payments", "billing", "https://api.example.com/billing/v1", 1),
			api("shop", "orders", "https://api.example.com/orders", 2),
			api("platform", "orders", "https://api.example.com/orders", 3),
			api("platform", "billing", "https://api.example.com/billing", 4),
			api("shop", "own", "https://shop.example.com", 5),
		},
		want: map[types.NamespacedName]Outcome{
			key("payments", "billing"): Held, key("shop", "orders"): NotAllowed, key("platform", "orders"): Held,
			key("platform", "billing"): NotAllowed, key("shop", "own"): Held,
		},
	}, {
		name:  "an empty prefix closes every audience no other rule opens",
		rules: []v1alpha1.AudienceRule{{Prefix: "", Namespaces: []string{}}, {Prefix: billing, Namespaces: []string{"payments"}}},
		apis:  []API{api("payments", "billing", billing, 1), api("shop", "orders", "https://orders.example.com", 2)},
		want:  map[types.NamespacedName]Outcome{key("payments", "billing"): Held, key("shop", "orders"): NotAllowed},
	}, {
		name:        "a rule listing the claimant keeps the claim",
		rules:       []v1alpha1.AudienceRule{{Prefix: "https://", Namespaces: []string{"payments", "shop"}}},
		claims:      []v1alpha1.AudienceClaim{unused(billing, "payments", 1, 2)},
		apis:        []API{api("shop", "squat", billing, 3)},
		want:        map[types.NamespacedName]Outcome{key("shop", "squat"): ClaimedByNamespace},
		claimsAfter: []v1alpha1.AudienceClaim{unused(billing, "payments", 1, 2)},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			d := Decide(c.rules, c.claims, c.apis, now)
			got := map[types.NamespacedName]Outcome{}
			for k, v := range d.Verdicts {
				got[k] = v.Outcome
			}
			g.Expect(got).To(Equal(c.want))
			if c.claimsAfter != nil {
				g.Expect(d.Claims).To(Equal(c.claimsAfter))
			}
			// Deciding again over the recorded claims changes nothing: the
			// API reconcilers read what the Tenant recorded.
			again := Decide(c.rules, d.Claims, c.apis, now.Add(time.Hour))
			g.Expect(again.Verdicts).To(Equal(d.Verdicts))
			g.Expect(again.Claims).To(Equal(d.Claims))
		})
	}
}

func TestVerdictNamesTheHolder(t *testing.T) {
	g := NewWithT(t)
	claims := []v1alpha1.AudienceClaim{unused(billing, "payments", 1, 2)}
	d := Decide(nil, claims, []API{api("shop", "squat", billing, 3)}, t0)
	v := d.Verdicts[key("shop", "squat")]
	g.Expect(v.Claim).NotTo(BeNil())
	g.Expect(v.Claim.Namespace).To(Equal("payments"))

	d = Decide(nil, nil, []API{api("payments", "billing", billing, 1), api("shop", "squat", billing, 3)}, t0)
	g.Expect(d.Verdicts[key("shop", "squat")].Holder).To(Equal(key("payments", "billing")))
}

// TestUnusedClaimsAreBounded: a namespace that churns through audiences
// keeps its most recent unused claims only, and only its own churn can push
// them out.
func TestUnusedClaimsAreBounded(t *testing.T) {
	g := NewWithT(t)
	var claims []v1alpha1.AudienceClaim
	for i := range MaxUnusedPerNamespace + 1 {
		claims = append(claims, unused(fmt.Sprintf("https://a%02d.example.com", i), "churn", 0, i))
	}
	claims = append(claims, unused(billing, "payments", 0, 0))
	// The squatter wants the churning namespace's oldest unused audience.
	oldest := "https://a00.example.com"
	d := Decide(nil, claims, []API{api("other", "x", oldest, 1), api("other", "y", billing, 2)}, t0.Add(time.Hour))
	g.Expect(d.Verdicts[key("other", "x")].Outcome).To(Equal(Held), "forgotten for lack of room")
	g.Expect(d.Verdicts[key("other", "y")].Outcome).To(Equal(ClaimedByNamespace), "payments' one unused claim stays")
	perNamespace := map[string]int{}
	for _, c := range d.Claims {
		if c.UnusedSince != nil {
			perNamespace[c.Namespace]++
		}
	}
	g.Expect(perNamespace).To(Equal(map[string]int{"churn": MaxUnusedPerNamespace, "payments": 1}))
	again := Decide(nil, d.Claims, []API{api("other", "x", oldest, 1), api("other", "y", billing, 2)}, t0.Add(2*time.Hour))
	g.Expect(again.Verdicts).To(Equal(d.Verdicts))
	g.Expect(again.Claims).To(Equal(d.Claims))
}

func TestRuleFor(t *testing.T) {
	g := NewWithT(t)
	rules := []v1alpha1.AudienceRule{{Prefix: "https://a.example.com"}, {Prefix: "https://a.example.com/x"}}
	g.Expect(RuleFor(rules, "https://a.example.com/x/y").Prefix).To(Equal("https://a.example.com/x"))
	g.Expect(RuleFor(rules, "https://a.example.com.evil.net").Prefix).To(Equal("https://a.example.com"),
		"a prefix covers look-alike hosts too: the reservation errs on the side of the owner")
	g.Expect(RuleFor(rules, "https://b.example.com")).To(BeNil())
}
