package tenant

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Rendering a Tenant's configuration reads every Application and API of
// the tenant, so a full pass costs time in proportion to the tenant's
// size (about a third of a second at 5,000 Applications on two cores).
// While thousands of Applications arrive, one full pass per change would
// keep the operator rendering without pause; and every new configuration
// makes the issuer replicas reload. So full passes of one Tenant are spaced
// by a window proportional to the last one's duration: a reconcile inside
// the window (an Application created, an issuer replica reporting) only
// observes the issuer and reuses the rest of the last full pass, and the
// full pass runs when the window ends. A change after a quiet moment is
// rendered at once: a small tenant's window is a few milliseconds, and the
// window only ever delays changes that arrive while others are rendered.
const (
	// coalesceFactor times the last full pass's duration is the window.
	coalesceFactor = 3
	// maxCoalesceWindow bounds the wait for the next full pass.
	maxCoalesceWindow = 2 * time.Second
)

// tenantPasses remembers each Tenant's last full pass.
type tenantPasses struct {
	mu sync.Mutex
	m  map[types.NamespacedName]fullPass
}

type fullPass struct {
	uid        types.UID
	generation int64
	at         time.Time
	took       time.Duration
	// obs is what that pass observed, without the Applications and APIs
	// themselves (they would keep old cache objects alive).
	obs tenantObservation
}

// window returns how long after the last full pass of tenant the next
// one is due, and what that pass observed; zero when a full pass is due
// now (none yet, or the Tenant's spec changed since).
func (p *tenantPasses) window(tenant *v1alpha1.Tenant, now time.Time) (time.Duration, tenantObservation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, ok := p.m[types.NamespacedName{Namespace: tenant.Namespace, Name: tenant.Name}]
	if !ok || last.uid != tenant.UID || last.generation != tenant.Generation {
		return 0, tenantObservation{}
	}
	wait := last.at.Add(min(coalesceFactor*last.took, maxCoalesceWindow)).Sub(now)
	if wait <= 0 {
		return 0, tenantObservation{}
	}
	return wait, last.obs
}

// record remembers a full pass of tenant that started at start and
// observed obs.
func (p *tenantPasses) record(tenant *v1alpha1.Tenant, start, end time.Time, obs tenantObservation) {
	obs.served = servedObjects{longest: obs.served.longest}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[types.NamespacedName]fullPass{}
	}
	p.m[types.NamespacedName{Namespace: tenant.Namespace, Name: tenant.Name}] = fullPass{
		uid: tenant.UID, generation: tenant.Generation, at: start, took: end.Sub(start), obs: obs}
}

// forget drops a deleted Tenant's last pass.
func (p *tenantPasses) forget(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
}
