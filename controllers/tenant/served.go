package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/audience"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// servedObjects is what the issuer configuration is made of: the attached
// Applications and APIs that resolved and passed policy, by the same rules
// their own reconcilers report in status.
type servedObjects struct {
	apps    []*v1alpha1.Application
	apis    []*v1alpha1.API
	digests map[string]string // client ID -> hex SHA-256 of the client secret
	// effective maps "Application ns/name" / "API ns/name" to the digest of
	// the object's effective lifetimes.
	effective map[string]string
	// longest is the longest lifetime of any token the issuer can sign, how
	// long a retired key must stay published.
	longest time.Duration
}

// gatherServed fills obs.served and the attachment counts.
func (r *TenantReconciler) gatherServed(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	key := client.ObjectKeyFromObject(tenant).String()
	// The cache's own objects, not copies: copying 5,000 Applications per
	// render was most of a render's cost. Nothing below modifies them
	// (WithAPIs copies before it changes an Application).
	var apps v1alpha1.ApplicationList
	if err := r.List(ctx, &apps, client.MatchingFields{serving.IndexTenant: key}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing Applications of Tenant %s: %w", key, err)
	}
	var apis v1alpha1.APIList
	if err := r.List(ctx, &apis, client.MatchingFields{serving.IndexTenant: key}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing APIs of Tenant %s: %w", key, err)
	}
	t := lifetime.ForTenant(tenant.Name, tenant.Spec)
	served := servedObjects{digests: map[string]string{}, effective: map[string]string{}}

	admitted := func(kind string, obj client.Object) (bool, error) {
		p, err := serving.CheckAdmission(ctx, r.Client, tenant, kind, obj)
		return p == nil && err == nil, err
	}
	var admittedAPIs []*v1alpha1.API
	for i := range apis.Items {
		api := &apis.Items[i]
		ok, err := admitted("API", api)
		if err != nil {
			return err
		}
		if ok {
			obs.apis++
			admittedAPIs = append(admittedAPIs, api)
		}
	}
	all := serving.Ptrs(apis.Items)
	decision, err := serving.DecideAudiences(ctx, r.Client, tenant, admittedAPIs, r.now())
	if err != nil {
		return err
	}
	obs.audienceClaims = decision.Claims
	lookup := serving.ListedAPILookup(r.Client, all, &decision)
	for _, api := range admittedAPIs {
		if decision.Verdicts[client.ObjectKeyFromObject(api)].Outcome != audience.Held {
			continue
		}
		eff := lifetime.ForAPI(t, api.Namespace, api.Name, api.Spec)
		if eff.Enforcement.Rejected() {
			continue
		}
		served.apis = append(served.apis, api)
		st := eff.Status()
		served.effective["API "+api.Namespace+"/"+api.Name] = status.EffectiveDigest(&st)
		served.longest = max(served.longest, eff.Standard.Duration, eff.Browser.Duration)
	}

	for i := range apps.Items {
		app := &apps.Items[i]
		ok, err := admitted("Application", app)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		obs.applications++
		res, err := serving.FetchAPIs(ctx, lookup, app, tenant, t)
		if err != nil {
			return err
		}
		if serving.BlocksApplication(res.Problem) {
			continue
		}
		// APIs whose owners do not consent are left out of the
		// Application as the issuer sees it: its token requests for them
		// fail with invalid_target.
		app = serving.WithAPIs(app, res.Kept)
		eff := lifetime.ForApplication(t, app.Name, app.Spec, res.APIs)
		if eff.Enforcement.Rejected() {
			continue
		}
		if serving.IsConfidential(app.Spec.Type) {
			digest, ok, err := r.secretDigest(ctx, app)
			if err != nil {
				return err
			}
			if !ok {
				continue // its reconciler has not created the credentials yet
			}
			served.digests[serving.ClientID(app)] = digest
		}
		if eff.IDToken != nil {
			served.longest = max(served.longest, eff.IDToken.Duration)
		}
		served.effective["Application "+app.Namespace+"/"+app.Name] = status.EffectiveDigest(eff.Status())
		served.apps = append(served.apps, app)
	}
	obs.served = served
	return nil
}

// secretDigest reads the application's credentials Secret and returns the
// SHA-256 of its client secret. The secret itself goes no further.
func (r *TenantReconciler) secretDigest(ctx context.Context, app *v1alpha1.Application) (string, bool, error) {
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: serving.CredentialsSecretName(app)}, s)
	if apierrors.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("getting credentials of Application %s/%s: %w", app.Namespace, app.Name, err)
	}
	secret := s.Data[serving.SecretKeyClientSecret]
	if !metav1.IsControlledBy(s, app) || serving.WeakClientSecret(secret) != "" {
		// A weak hand-written secret is never served: the Application
		// says why (WeakClientSecret).
		return "", false, nil
	}
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:]), true, nil
}
