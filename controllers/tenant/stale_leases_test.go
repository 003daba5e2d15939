package tenant

import (
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestLivenessChanged(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	const never = -1
	lease := func(name, owner, ownerKind string, renewedAgo time.Duration) coordinationv1.Lease {
		l := coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
		if owner != "" {
			yes := true
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "idtenant.dev/v1alpha1", Kind: ownerKind, Name: owner, Controller: &yes}}
			if ownerKind != "Tenant" {
				l.OwnerReferences[0].APIVersion = "apps/v1"
			}
		}
		if renewedAgo != never {
			holder, secs, renewed := "pod", int32(15), metav1.NewMicroTime(now.Add(-renewedAgo))
			l.Spec = coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &renewed}
		}
		return l
	}
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "shop", Name: name} }

	for _, c := range []struct {
		name   string
		leases []coordinationv1.Lease
		before map[string]bool // liveness at the previous look; absent = not seen
		want   []string        // Tenants woken
	}{
		{"a live Lease that stays live wakes nobody",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 5*time.Second)}, map[string]bool{"acme-issuer-0": true}, nil},
		{"a live Lease that went stale wakes its Tenant",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 16*time.Second)}, map[string]bool{"acme-issuer-0": true}, []string{"acme"}},
		{"a Lease stale at both looks wakes nobody again",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", time.Minute)}, map[string]bool{"acme-issuer-0": false}, nil},
		{"a stale Lease renewed again (a paused replica resumed) wakes its Tenant",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", time.Second)}, map[string]bool{"acme-issuer-0": false}, []string{"acme"}},
		{"a live Lease seen for the first time wakes nobody (its claim was an event)",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", time.Second)}, nil, nil},
		{"a held Lease first seen stale (it expired before the first look) wakes its Tenant",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 16*time.Second)}, nil, []string{"acme"}},
		{"an unheld slot seen for the first time wakes nobody",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", never)}, nil, nil},
		{"an owner reference naming another Tenant is not believed (the Lease's name is not its slot)",
			[]coordinationv1.Lease{lease("evil-issuer-0", "acme", "Tenant", 16*time.Second), lease("acme-issuer-00", "acme", "Tenant", 16*time.Second)},
			map[string]bool{"evil-issuer-0": true, "acme-issuer-00": true}, nil},
		{"a slot never held wakes nobody",
			[]coordinationv1.Lease{lease("acme-issuer-1", "acme", "Tenant", never)}, map[string]bool{"acme-issuer-1": false}, nil},
		{"a released slot (holder cleared on a clean exit) wakes its Tenant",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", never)}, map[string]bool{"acme-issuer-0": true}, []string{"acme"}},
		{"two replicas of one Tenant going stale wake it once",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 16*time.Second), lease("acme-issuer-1", "acme", "Tenant", 20*time.Second)},
			map[string]bool{"acme-issuer-0": true, "acme-issuer-1": true}, []string{"acme"}},
		{"Leases not controlled by a Tenant are ignored",
			[]coordinationv1.Lease{lease("other-0", "x", "Deployment", 16*time.Second), lease("bare-0", "", "", 16*time.Second)},
			map[string]bool{"other-0": true, "bare-0": true}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := map[types.NamespacedName]bool{}
			for n, live := range c.before {
				before[key(n)] = live
			}
			live, woken := livenessChanged(c.leases, before, now)
			var got []string
			for _, tn := range woken {
				if tn.Namespace != "shop" {
					t.Errorf("woke %s in namespace %q", tn.Name, tn.Namespace)
				}
				got = append(got, tn.Name)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("woke %v, want %v", got, c.want)
			}
			for _, l := range c.leases {
				want := l.Spec.RenewTime != nil && now.Sub(l.Spec.RenewTime.Time) < 15*time.Second
				if v, ok := live[key(l.Name)]; !ok || v != want {
					t.Errorf("%s: remembered live = %v (present %v), want %v", l.Name, v, ok, want)
				}
			}
		})
	}
}
