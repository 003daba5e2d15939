package tenant

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// servedObjects is what the issuer configuration is made of: the attached
// Applications and APIs that resolved and passed policy, by the same rules
// their own reconcilers report in status.
type servedObjects struct {
	apps    []*v1alpha1.Application
	apis    []*v1alpha1.API
	digests map[string]string // client ID -> hex SHA-256 of the client secret
	// previous are the replaced client secrets still accepted, by client ID.
	previous map[string]*issuerconfig.PreviousSecret
	// next are rotations' new client secrets' digests, by client ID.
	next map[string]string
	// effective maps "Application ns/name" / "API ns/name" to the digest of
	// the object's effective lifetimes.
	effective map[string]string
	// longest is the longest lifetime of any token the issuer can sign, how
	// long a retired key must stay published.
	longest time.Duration
	// longestRefresh is the longest refresh absolute lifetime of a served
	// Application: how long a refresh family (and the identity sealed in
	// it) may live.
	longestRefresh time.Duration
}

// gatherServed owns what the issuer configuration is made of: it gathers
// the Tenant's Applications and APIs, decides once what is served
// (serving.Decide, the same rules the Application and API controllers
// report) and fills obs.served, the attachment counts and the audience
// claims to record.
func (r *TenantReconciler) gatherServed(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	in, err := serving.Gather(ctx, r.Client, tenant)
	if err != nil {
		return err
	}
	plan := serving.Decide(in, r.now())
	obs.apis, obs.applications = plan.AdmittedAPIs, plan.AdmittedApplications
	obs.audienceClaims = plan.Audiences.Claims
	served := servedObjects{digests: map[string]string{}, previous: map[string]*issuerconfig.PreviousSecret{}, next: map[string]string{}, effective: map[string]string{}}
	served.apps, served.apis = plan.Served(in)
	for _, api := range served.apis {
		v := plan.APIs[client.ObjectKeyFromObject(api)]
		served.effective["API "+api.Namespace+"/"+api.Name] = v.Digest
		served.longest = max(served.longest, v.Effective.Standard.Duration, v.Effective.Browser.Duration)
	}
	for _, app := range served.apps {
		v := plan.Applications[client.ObjectKeyFromObject(app)]
		if v.SecretDigest != "" {
			served.digests[serving.ClientID(app)] = v.SecretDigest
		}
		if v.PreviousSecret != nil {
			served.previous[serving.ClientID(app)] = v.PreviousSecret
		}
		if v.NextSecretDigest != "" {
			served.next[serving.ClientID(app)] = v.NextSecretDigest
		}
		if v.Effective.IDToken != nil {
			served.longest = max(served.longest, v.Effective.IDToken.Duration)
		}
		if v.Effective.Refresh != nil {
			served.longestRefresh = max(served.longestRefresh, v.Effective.Refresh.Absolute.Duration)
		}
		served.effective["Application "+app.Namespace+"/"+app.Name] = v.Digest
	}
	obs.served = served
	return nil
}
