package serving

import (
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/audience"
)

// AudienceProblem turns a verdict on api into the API's own condition; nil
// when api holds its audience.
func AudienceProblem(tenant *v1alpha1.Tenant, api *v1alpha1.API, v audience.Verdict) *status.Problem {
	tk := client.ObjectKeyFromObject(tenant)
	aud := api.Spec.Audience
	switch v.Outcome {
	case audience.NotAllowed:
		return &status.Problem{Reason: v1alpha1.ReasonAudienceNotAllowed, Stalls: true,
			Message: fmt.Sprintf("Tenant %s reserves audiences starting with %q for %s (spec.audiences), so spec.audience %q cannot be used from namespace %q",
				tk, v.Rule.Prefix, namespaceList(v.Rule.Namespaces), aud, api.Namespace)}
	case audience.HeldByAPI:
		msg := fmt.Sprintf("spec.audience %q is already used by API %s in the same Tenant; audiences must be unique per Tenant", aud, v.Holder)
		if v.Holder.Namespace != api.Namespace {
			msg += fmt.Sprintf(", and belong to the namespace that first used them: only Tenant %s can hand this one to namespace %q, with a spec.audiences rule listing it", tk, api.Namespace)
		}
		return &status.Problem{Reason: v1alpha1.ReasonAudienceConflict, Stalls: true, Message: msg}
	case audience.ClaimedByNamespace:
		return &status.Problem{Reason: v1alpha1.ReasonAudienceConflict, Stalls: true,
			Message: fmt.Sprintf("spec.audience %q belongs to namespace %q (held since %s, unused there since %s: an API recreated there gets it back); only Tenant %s can hand it to namespace %q, with a spec.audiences rule whose prefix matches it and lists %q",
				aud, v.Claim.Namespace, v.Claim.ClaimedAt.UTC().Format(time.RFC3339), v.Claim.UnusedSince.UTC().Format(time.RFC3339), tk, api.Namespace, api.Namespace)}
	case audience.Undecided:
		return &status.Problem{Reason: v1alpha1.ReasonProgressing, Message: "Deciding which API holds spec.audience."}
	}
	return nil
}

// notServedBecause says in a few words why an API that does not hold its
// audience is not served, for the Applications that list it.
func notServedBecause(api *v1alpha1.API, v audience.Verdict) string {
	aud := api.Spec.Audience
	switch v.Outcome {
	case audience.NotAllowed:
		return fmt.Sprintf("the Tenant reserves its audience %q for %s", aud, namespaceList(v.Rule.Namespaces))
	case audience.HeldByAPI:
		return fmt.Sprintf("its audience %q belongs to API %s", aud, v.Holder)
	case audience.ClaimedByNamespace:
		return fmt.Sprintf("its audience %q belongs to namespace %q", aud, v.Claim.Namespace)
	}
	return fmt.Sprintf("the Tenant has not decided who holds its audience %q yet", aud)
}

func namespaceList(ns []string) string {
	switch len(ns) {
	case 0:
		return "no namespace"
	case 1:
		return "namespace " + ns[0]
	}
	return "namespaces " + strings.Join(ns, ", ")
}
