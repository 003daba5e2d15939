package serving

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/audience"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// Input is everything the served decision of one Tenant reads, gathered in
// one place (Gather and its narrower forms). The objects are the cache's
// own: Decide only reads them.
type Input struct {
	Tenant *v1alpha1.Tenant
	// APIs and Applications attach to Tenant (their spec.tenantRef names
	// it). A gatherer for one object may hold only the ones it needs.
	APIs         []*v1alpha1.API
	Applications []*v1alpha1.Application
	// Referenced are APIs that Applications list but that attach to
	// another Tenant, by key; a key in neither APIs nor Referenced does
	// not exist.
	Referenced map[types.NamespacedName]*v1alpha1.API
	// NamespaceLabels are the labels of the namespaces a label selector
	// judges; a namespace missing here is judged without labels.
	NamespaceLabels map[string]map[string]string
	// Credentials are the client secrets of confidential Applications, by
	// client ID, as their credentials Secrets hold them; absent while the
	// Secret does not exist. They stay in memory: the plan keeps only
	// digests.
	Credentials map[string]Credential
}

// Credential is a confidential Application's credentials Secret as read.
type Credential struct {
	Secret []byte
	// Previous is the secret a rotation replaced, accepted until
	// PreviousValidUntil; empty without one.
	Previous           []byte
	PreviousValidUntil time.Time
	// Next is a rotation's new secret before it becomes Secret; empty
	// without one.
	Next []byte
	// Controlled: the Application controls the Secret (a Secret of the
	// same name somebody else made is never served).
	Controlled bool
}

// Plan is the served decision of one Tenant: a verdict per Application and
// API, and what the issuer configuration is made of.
type Plan struct {
	// Tenant is the Tenant's effective settings.
	Tenant lifetime.Tenant
	// Audiences is who holds each audience, and the claims to record.
	Audiences audience.Decision
	// APIs and Applications are the verdicts, by key, of every object in
	// Input.APIs and Input.Applications.
	APIs         map[types.NamespacedName]*APIVerdict
	Applications map[types.NamespacedName]*ApplicationVerdict
	// AdmittedAPIs and AdmittedApplications count the attached objects the
	// Tenant admits.
	AdmittedAPIs, AdmittedApplications int32
}

// APIVerdict is the decision on one API.
type APIVerdict struct {
	API *v1alpha1.API
	// Problem keeps the API out of the issuer: the Tenant does not admit
	// its namespace (NamespaceNotAllowed) or it does not hold its audience
	// (AudienceConflict, AudienceNotAllowed, or Progressing while
	// undecided). A policy refusal is in Effective.Enforcement.
	Problem  *status.Problem
	Audience audience.Verdict
	// Effective is set when Problem is nil.
	Effective *lifetime.API
	// Applications and DeniedApplications are "<namespace>/<name>" of the
	// Applications in Input that list this API, with and without its
	// owner's consent, sorted.
	Applications, DeniedApplications []string
	// Served: the issuer serves it. Digest is the digest of its effective
	// lifetimes as status reports them (status.EffectiveDigest).
	Served bool
	Digest string
}

// ApplicationVerdict is the decision on one Application.
type ApplicationVerdict struct {
	// Application is the object as the issuer serves it: spec.apis holds
	// only the entries served (Kept).
	Application *v1alpha1.Application
	// Problem is why the Tenant does not admit it, or the first entry of
	// spec.apis that keeps it out, or (ServedWithout) the entries left out
	// because their API's owner does not consent (BlocksApplication).
	Problem *status.Problem
	// APIs are the effective configurations of the entries of spec.apis
	// served, in spec order, and Kept those entries.
	APIs []lifetime.API
	Kept []v1alpha1.APIAccess
	// Effective is set unless Problem blocks the Application.
	Effective *lifetime.Application
	// SecretDigest is the hex SHA-256 of a confidential client's secret,
	// when it may be served (controlled by the Application, not weak).
	SecretDigest string
	// PreviousSecret is the replaced secret a rotation still accepts,
	// while it may be served.
	PreviousSecret *issuerconfig.PreviousSecret
	// NextSecretDigest is the hex SHA-256 of a rotation's new secret, which
	// the issuer accepts before applications are handed it.
	NextSecretDigest string
	// Served: the issuer serves it. Digest is the digest of its effective
	// lifetimes as status reports them.
	Served bool
	Digest string
}

// Decide is the one table of rules that says whether each Application and
// API of a Tenant is served, and with which effective lifetimes, at now
// (the audience rules' clock). Every controller decides through here: the
// Tenant renders the plan, the Application and API controllers report
// their own verdict. Rules, in order:
//
//   - the Tenant admits the object's namespace (spec.allowedNamespaces);
//   - an API holds its audience: admitted, not being deleted, and the
//     oldest of those that want it within the Tenant's spec.audiences
//     rules and recorded claims (internal/audience);
//   - an Application's listed APIs exist, attach to the same Tenant, are
//     admitted, hold their audience, are not refused by policy and define
//     the requested scopes, each listed once; an API whose owner does not
//     consent (spec.allowedApplications) is left out, the rest served;
//   - policy (Tenant spec.policy): Clamp shortens, Reject keeps the
//     object out (internal/lifetime, which also applies the session cap);
//   - a confidential Application is served only with a credentials
//     Secret it controls holding a strong secret (WeakClientSecret).
func Decide(in Input, now time.Time) Plan {
	t := lifetime.ForTenant(in.Tenant.Name, in.Tenant.Spec)
	tenantKey := client.ObjectKeyFromObject(in.Tenant)
	plan := Plan{Tenant: t,
		APIs:         make(map[types.NamespacedName]*APIVerdict, len(in.APIs)),
		Applications: make(map[types.NamespacedName]*ApplicationVerdict, len(in.Applications)),
	}
	// APIs: admission, then audiences among the admitted.
	candidates := make([]audience.API, 0, len(in.APIs))
	for _, api := range in.APIs {
		v := &APIVerdict{API: api, Problem: admission(in.Tenant, "API", api.Namespace, in.labels(api.Namespace))}
		plan.APIs[client.ObjectKeyFromObject(api)] = v
		if v.Problem != nil {
			continue
		}
		plan.AdmittedAPIs++
		if api.DeletionTimestamp.IsZero() && TenantKey(api.Spec.TenantRef, api.Namespace) == tenantKey {
			candidates = append(candidates, audience.API{Key: client.ObjectKeyFromObject(api), Audience: api.Spec.Audience, Created: api.CreationTimestamp.Time})
		}
	}
	plan.Audiences = audience.Decide(in.Tenant.Spec.Audiences, in.Tenant.Status.AudienceClaims, candidates, now)
	for key, v := range plan.APIs {
		if v.Problem != nil {
			continue
		}
		v.Audience = plan.Audiences.Verdicts[key]
		if v.Problem = AudienceProblem(in.Tenant, v.API, v.Audience); v.Problem != nil {
			continue
		}
		eff := lifetime.ForAPI(t, v.API.Namespace, v.API.Name, v.API.Spec)
		v.Effective = &eff
		st := eff.Status()
		v.Digest = status.EffectiveDigest(&st)
		v.Served = !eff.Enforcement.Rejected()
	}
	// Applications.
	for _, app := range in.Applications {
		key := client.ObjectKeyFromObject(app)
		v := &ApplicationVerdict{Application: app, Problem: admission(in.Tenant, "Application", app.Namespace, in.labels(app.Namespace))}
		plan.Applications[key] = v
		// Each API's status lists who may call it, whatever else holds
		// the Application up.
		in.consents(plan, app)
		if v.Problem != nil {
			continue
		}
		plan.AdmittedApplications++
		v.APIs, v.Kept, v.Problem = in.decideAPIs(plan, app, t)
		if BlocksApplication(v.Problem) {
			continue
		}
		// APIs whose owners do not consent are left out of the
		// Application as the issuer sees it: its token requests for them
		// fail with invalid_target.
		v.Application = WithAPIs(app, v.Kept)
		eff := lifetime.ForApplication(t, app.Name, v.Application.Spec, v.APIs)
		v.Effective = &eff
		v.Digest = status.EffectiveDigest(eff.Status())
		if eff.Enforcement.Rejected() {
			continue
		}
		if IsConfidential(app.Spec.Type) {
			cred, ok := in.Credentials[ClientID(app)]
			if !ok || !cred.Controlled || WeakClientSecret(cred.Secret) != "" {
				// Not created yet, not ours, or a weak hand-written
				// secret: never served (the Application says why).
				continue
			}
			sum := sha256.Sum256(cred.Secret)
			v.SecretDigest = hex.EncodeToString(sum[:])
			if len(cred.Previous) > 0 && now.Before(cred.PreviousValidUntil) && WeakClientSecret(cred.Previous) == "" {
				prev := sha256.Sum256(cred.Previous)
				v.PreviousSecret = &issuerconfig.PreviousSecret{SHA256: hex.EncodeToString(prev[:]), ValidUntil: cred.PreviousValidUntil}
			}
			if len(cred.Next) > 0 && WeakClientSecret(cred.Next) == "" {
				next := sha256.Sum256(cred.Next)
				v.NextSecretDigest = hex.EncodeToString(next[:])
			}
		}
		v.Served = true
	}
	for _, v := range plan.APIs {
		slices.Sort(v.Applications)
		slices.Sort(v.DeniedApplications)
	}
	return plan
}

// labels returns the labels of namespace as gathered.
func (in Input) labels(namespace string) map[string]string { return in.NamespaceLabels[namespace] }

// api finds the API key names: the Tenant's, or another Tenant's.
func (in Input) api(plan Plan, key types.NamespacedName) (*v1alpha1.API, bool) {
	if v, ok := plan.APIs[key]; ok {
		return v.API, true
	}
	api, ok := in.Referenced[key]
	return api, ok
}

// consents records, on each API of the Tenant that app lists, whether its
// owner consents to app's namespace.
func (in Input) consents(plan Plan, app *v1alpha1.Application) {
	name := app.Namespace + "/" + app.Name
	seen := make(map[types.NamespacedName]bool, len(app.Spec.APIs))
	for _, ref := range app.Spec.APIs {
		key := keyOf(APIKey(ref, app.Namespace))
		v, ok := plan.APIs[key]
		if !ok || seen[key] {
			continue
		}
		seen[key] = true
		if consent(v.API, app.Namespace, in.labels(app.Namespace)) == nil {
			v.Applications = append(v.Applications, name)
		} else {
			v.DeniedApplications = append(v.DeniedApplications, name)
		}
	}
}

// decideAPIs checks each entry of app.Spec.APIs in order and returns the
// effective configuration under t of those served.
func (in Input) decideAPIs(plan Plan, app *v1alpha1.Application, t lifetime.Tenant) ([]lifetime.API, []v1alpha1.APIAccess, *status.Problem) {
	tenantRef := client.ObjectKeyFromObject(in.Tenant)
	apis := make([]lifetime.API, 0, len(app.Spec.APIs))
	kept := make([]v1alpha1.APIAccess, 0, len(app.Spec.APIs))
	var denied []string
	seen := make(map[string]int, len(app.Spec.APIs))
	for i, ref := range app.Spec.APIs {
		key := APIKey(ref, app.Namespace)
		// Admission cannot check this cheaply (CEL cost grows with the square
		// of the list), so the controller does.
		if j, dup := seen[key]; dup {
			return nil, nil, &status.Problem{Reason: v1alpha1.ReasonInvalidSpec, Stalls: true,
				Message: fmt.Sprintf("spec.apis[%d] and spec.apis[%d] both list API %s; list each API once", j, i, key)}
		}
		seen[key] = i
		api, ok := in.api(plan, keyOf(key))
		if !ok {
			return nil, nil, &status.Problem{Reason: v1alpha1.ReasonAPINotFound,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] does not exist", key, i)}
		}
		if got := TenantKey(api.Spec.TenantRef, api.Namespace); got != tenantRef {
			return nil, nil, &status.Problem{Reason: v1alpha1.ReasonAPIInOtherTenant, Stalls: true,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] attaches to Tenant %s, not to this Application's Tenant %s", key, i, got, tenantRef)}
		}
		if admission(in.Tenant, "API", api.Namespace, in.labels(api.Namespace)) != nil {
			return nil, nil, &status.Problem{Reason: v1alpha1.ReasonNamespaceNotAllowed, Stalls: true,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] is in namespace %q, which Tenant %s does not admit", key, i, api.Namespace, tenantRef)}
		}
		// The API owner's consent: without it this entry is left out, the
		// rest of the Application is still served.
		if p := consent(api, app.Namespace, in.labels(app.Namespace)); p != nil {
			if !p.ServedWithout {
				return nil, nil, p
			}
			denied = append(denied, fmt.Sprintf("spec.apis[%d]: %s", i, p.Message))
			continue
		}
		if v := plan.Audiences.Verdicts[client.ObjectKeyFromObject(api)]; v.Outcome != audience.Held {
			return nil, nil, &status.Problem{Reason: v1alpha1.ReasonAudienceConflict,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] is not served: %s", key, i, notServedBecause(api, v))}
		}
		// Held: the API is the Tenant's and admitted, so its verdict holds
		// its effective lifetimes, computed once per plan, not once per
		// Application that lists it.
		var eff lifetime.API
		if v := plan.APIs[client.ObjectKeyFromObject(api)]; v != nil && v.Effective != nil {
			eff = *v.Effective
		} else {
			eff = lifetime.ForAPI(t, api.Namespace, api.Name, api.Spec)
		}
		if eff.Enforcement.Rejected() {
			return nil, nil, &status.Problem{Reason: v1alpha1.ReasonPolicyViolation,
				Message: fmt.Sprintf("API %s listed in spec.apis[%d] is refused by Tenant policy: %s", key, i, eff.Enforcement.Violations[0].Message())}
		}
		for _, s := range ref.Scopes {
			if !slices.ContainsFunc(api.Spec.Scopes, func(d v1alpha1.APIScope) bool { return d.Name == s }) {
				return nil, nil, &status.Problem{Reason: v1alpha1.ReasonScopeNotDefined, Stalls: true,
					Message: fmt.Sprintf("scope %q in spec.apis[%d].scopes is not defined in spec.scopes of API %s", s, i, key)}
			}
		}
		apis = append(apis, eff)
		kept = append(kept, ref)
	}
	if len(denied) > 0 {
		return apis, kept, &status.Problem{Reason: v1alpha1.ReasonAPINotShared, Stalls: true, ServedWithout: true,
			Message: strings.Join(denied, "; ") + ". The issuer serves this Application without those APIs: its token requests for them fail with invalid_target."}
	}
	return apis, kept, nil
}

// keyOf parses "<namespace>/<name>".
func keyOf(s string) types.NamespacedName {
	ns, name, _ := strings.Cut(s, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}

// Served is what the issuer configuration is made of, in input order.
func (p Plan) Served(in Input) (apps []*v1alpha1.Application, apis []*v1alpha1.API) {
	for _, api := range in.APIs {
		if v := p.APIs[client.ObjectKeyFromObject(api)]; v.Served {
			apis = append(apis, api)
		}
	}
	for _, app := range in.Applications {
		if v := p.Applications[client.ObjectKeyFromObject(app)]; v.Served {
			apps = append(apps, v.Application)
		}
	}
	return apps, apis
}
