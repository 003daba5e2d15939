package serving

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/audience"
)

// APILookup finds the APIs an Application lists. An Application's own
// reconcile reads them one by one through the cache; a Tenant's reconcile
// checks every Application of the tenant, so it lists the tenant's APIs
// and decides their audiences once, and answers from that — otherwise each
// API reference of each Application would list (and deep-copy) all of the
// tenant's APIs again to check audience ownership.
type APILookup struct {
	Reader client.Reader
	// listed, when set, are all the APIs of the tenant being reconciled
	// and decision their audiences.
	listed   []*v1alpha1.API
	decision *audience.Decision
	byKey    map[types.NamespacedName]*v1alpha1.API
}

// ListedAPILookup answers from apis, the tenant's APIs listed once, and
// decision, their audiences decided once; APIs of other tenants (a
// misconfigured reference) are still read through r.
func ListedAPILookup(r client.Reader, apis []*v1alpha1.API, decision *audience.Decision) *APILookup {
	l := &APILookup{Reader: r, listed: apis, decision: decision, byKey: make(map[types.NamespacedName]*v1alpha1.API, len(apis))}
	for _, api := range apis {
		l.byKey[client.ObjectKeyFromObject(api)] = api
	}
	return l
}

// get returns the API named key. The result must not be modified.
func (l *APILookup) get(ctx context.Context, key types.NamespacedName) (*v1alpha1.API, error) {
	if api, ok := l.byKey[key]; ok {
		return api, nil
	}
	api := &v1alpha1.API{}
	return api, l.Reader.Get(ctx, key, api)
}

// Audience decides whether api (admitted by tenant) holds its audience.
func (l *APILookup) Audience(ctx context.Context, tenant *v1alpha1.Tenant, api *v1alpha1.API) (audience.Verdict, error) {
	if l.decision == nil {
		apis, err := listTenantAPIs(ctx, l.Reader, tenant)
		if err != nil {
			return audience.Verdict{}, err
		}
		d, err := DecideAudiences(ctx, l.Reader, tenant, apis, time.Now())
		if err != nil {
			return audience.Verdict{}, err
		}
		l.decision = &d
	}
	return l.decision.Verdicts[client.ObjectKeyFromObject(api)], nil
}
