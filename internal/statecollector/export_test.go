package statecollector

import (
	"context"
	"errors"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// ForTest drives the state collector's rounds one by one over
// a fixed list of Tenants, which need not exist in the API server (so the
// manager's own collector never visits their records).
type ForTest struct {
	c *Collector
}

// NewForTest reads records through api and deletes them through writer.
func NewForTest(api client.Reader, writer client.Writer, tenants []v1alpha1.Tenant, now func() time.Time, opts Options) *ForTest {
	return &ForTest{c: &Collector{API: api, Writer: writer, Tenants: fixedTenants(tenants), Now: now,
		Options: opts.withDefaults(), Observations: &Observations{}}}
}

// Round runs a full round; busy says the delete budget ran out and a
// backlog is left.
func (s *ForTest) Round(ctx context.Context) (busy bool, err error) {
	return s.c.round(ctx, true)
}

// Observed is what the last pass over tenant found.
func (s *ForTest) Observed(tenant *v1alpha1.Tenant) *v1alpha1.StateStatus {
	return s.c.Observations.Get(tenant)
}

type fixedTenants []v1alpha1.Tenant

func (f fixedTenants) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("fixedTenants: Get is not supported")
}

func (f fixedTenants) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	l, ok := list.(*v1alpha1.TenantList)
	if !ok {
		return errors.New("fixedTenants lists Tenants only")
	}
	l.Items = append([]v1alpha1.Tenant(nil), f...)
	return nil
}
