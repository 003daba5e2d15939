package tenant

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The served generation is the oldest any live replica serves, whatever
// order the Leases come in — including generation 0 (nothing loaded yet).
func TestSummarizeLeasesOldestServed(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	lease := func(name, gen string, renewedAgo time.Duration) coordinationv1.Lease {
		holder, secs, renewed := name, int32(15), metav1.NewMicroTime(now.Add(-renewedAgo))
		return coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"idtenant.dev/served-generation": gen}},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &renewed},
		}
	}
	for _, order := range [][]coordinationv1.Lease{
		{lease("a", "1", 0), lease("b", "0", 0), lease("dead", "0", time.Minute)},
		{lease("b", "0", 0), lease("a", "1", 0)},
	} {
		got := summarizeLeases(order, 1, now)
		if got.live != 2 || got.synced != 1 || got.served != 0 {
			t.Errorf("%s first: live %d synced %d served %d, want 2 1 0", order[0].Name, got.live, got.synced, got.served)
		}
	}
	if got := summarizeLeases([]coordinationv1.Lease{lease("a", "7", 0), lease("b", "5", 0)}, 7, now); got.served != 5 {
		t.Errorf("served %d, want the oldest, 5", got.served)
	}
}
