package statecollector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/statecollector"
	"github.com/idtenant/idtenant/internal/statecollector/statetest"
)

// BenchmarkCollection measures how fast the collector deletes expired
// records against a real API server and etcd on this machine, with the
// default options (budgets, page size, workers) and without the pause
// between rounds: each iteration creates 2,000 expired records (a quarter
// of each kind an SSO login leaves: sessions idle past their timeout,
// codes, revoked families, revocations; not timed) and times the rounds
// until none is left. make bench sets records/s beside the issuance rate
// of the Kubernetes store measured in the same run (docs/state.md).
func BenchmarkCollection(b *testing.B) {
	ctx := context.Background()
	fast := fastClient(b)
	ns := newNamespace(b, nil)
	ghost := ghostTenant(ns)
	col := statecollector.NewForTest(fast, fast, []v1alpha1.Tenant{*ghost}, time.Now, statecollector.Options{})
	const perIteration = 2000
	var elapsed time.Duration
	var rounds int
	for i := range b.N {
		b.StopTimer()
		r := statetest.Records{NS: ns, Tenant: "ghost", UID: ghost.UID, Now: time.Now()}
		objs := make([]client.Object, 0, perIteration)
		for j := range perIteration / 4 {
			name := fmt.Sprintf("i%d-%05d", i, j)
			objs = append(objs, r.Session("s"+name, -2*time.Hour), r.Code("c"+name, -time.Minute),
				r.Family("f"+name, -time.Minute, true), r.Revoked("r"+name, -time.Minute))
		}
		statetest.CreateAll(b, fast, objs)
		b.StartTimer()
		start := time.Now()
		for busy := true; busy; {
			var err error
			if busy, err = col.Round(ctx); err != nil {
				b.Fatal(err)
			}
			rounds++
		}
		elapsed += time.Since(start)
	}
	if st := col.Observed(ghost); st == nil || st.AwaitingCollection != 0 {
		b.Fatalf("records left awaiting collection: %+v", st)
	}
	// In the manager rounds are BusyPeriod (default 2s) apart while a
	// backlog remains: the sustained rate counts that pause too.
	const busyPeriod = 2 * time.Second
	b.ReportMetric(float64(b.N*perIteration)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N*perIteration)/(elapsed+time.Duration(rounds)*busyPeriod).Seconds(), "paced-records/s")
	b.ReportMetric(float64(rounds)/float64(b.N), "rounds/op")
}
