package statecollector

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Observations hands the collector's latest numbers to the Tenant
// reconciler, which alone writes Tenant status.
type Observations struct {
	mu sync.Mutex
	m  map[types.NamespacedName]observation
}

type observation struct {
	uid    types.UID
	status v1alpha1.StateStatus
}

func (s *Observations) set(t *v1alpha1.Tenant, st v1alpha1.StateStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[types.NamespacedName]observation{}
	}
	s.m[client.ObjectKeyFromObject(t)] = observation{uid: t.UID, status: st}
}

// get returns the latest numbers of tenant, nil before the first pass (or
// if they belong to a deleted Tenant of the same name).
func (s *Observations) Get(t *v1alpha1.Tenant) *v1alpha1.StateStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.m[client.ObjectKeyFromObject(t)]
	if !ok || o.uid != t.UID {
		return nil
	}
	return o.status.DeepCopy()
}

func (s *Observations) Forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
