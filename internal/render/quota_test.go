package render

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestStateQuota: by default the Kubernetes store's records are bounded
// per kind (security review N1); spec.state.quota overrides a count or
// disables the quota; the Memory store writes no records and gets none.
func TestStateQuota(t *testing.T) {
	w := Workload{TenantName: "acme", Namespace: "identity"}
	count := func(q *corev1.ResourceQuota, resource string) int64 {
		n := q.Spec.Hard[corev1.ResourceName("count/"+resource+".state.idtenant.dev")]
		return n.Value()
	}
	q := w.StateQuota(nil)
	if q == nil || q.Name != "acme-state" || q.Namespace != "identity" {
		t.Fatalf("default quota: %+v", q)
	}
	for res, want := range map[string]int64{"sessions": 50_000, "refreshfamilies": 100_000, "authorizationcodes": 10_000, "revokedtokens": 20_000, "consents": 50_000} {
		if got := count(q, res); got != want {
			t.Errorf("default %s: %d, want %d", res, got, want)
		}
	}
	if len(q.Spec.Hard) != 5 {
		t.Errorf("the quota bounds %v, want only the five state kinds", q.Spec.Hard)
	}
	q = w.StateQuota(&v1alpha1.StateQuota{RefreshFamilies: new(int64(7))})
	if count(q, "refreshfamilies") != 7 || count(q, "sessions") != 50_000 {
		t.Errorf("one count set: %v", q.Spec.Hard)
	}
	if q := w.StateQuota(&v1alpha1.StateQuota{Disabled: true}); q != nil {
		t.Errorf("disabled: %+v", q)
	}
	w.State = v1alpha1.StateMemory
	if q := w.StateQuota(nil); q != nil {
		t.Errorf("Memory store: %+v", q)
	}
}
