package controllers

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestWentStale(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	lease := func(name, owner, ownerKind string, renewedAgo time.Duration) coordinationv1.Lease {
		l := coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
		if owner != "" {
			yes := true
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "idtenant.dev/v1alpha1", Kind: ownerKind, Name: owner, Controller: &yes}}
		}
		if renewedAgo >= 0 {
			holder, secs, renewed := "pod", int32(15), metav1.NewMicroTime(now.Add(-renewedAgo))
			l.Spec = coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &renewed}
		}
		return l
	}
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "shop", Name: name} }
	const never = -1

	for _, c := range []struct {
		name    string
		leases  []coordinationv1.Lease
		wasLive []string
		want    []string // Tenants woken
	}{
		{"a live Lease that stays live wakes nobody",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 5*time.Second)}, []string{"acme-issuer-0"}, nil},
		{"a live Lease that went stale wakes its Tenant",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 16*time.Second)}, []string{"acme-issuer-0"}, []string{"acme"}},
		{"a Lease stale at both looks wakes nobody again",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 60*time.Second)}, nil, nil},
		{"a slot never held wakes nobody",
			[]coordinationv1.Lease{lease("acme-issuer-1", "acme", "Tenant", never)}, []string{}, nil},
		{"two replicas of one Tenant going stale wake it once",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", 16*time.Second), lease("acme-issuer-1", "acme", "Tenant", 20*time.Second)},
			[]string{"acme-issuer-0", "acme-issuer-1"}, []string{"acme"}},
		{"released slot (holder cleared on a clean exit) wakes its Tenant",
			[]coordinationv1.Lease{lease("acme-issuer-0", "acme", "Tenant", never)}, []string{"acme-issuer-0"}, []string{"acme"}},
		{"Leases not controlled by a Tenant are ignored",
			[]coordinationv1.Lease{lease("other-0", "x", "Deployment", 16*time.Second), lease("bare-0", "", "", 16*time.Second)},
			[]string{"other-0", "bare-0"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			was := map[types.NamespacedName]bool{}
			for _, n := range c.wasLive {
				was[key(n)] = true
			}
			live, stale := wentStale(c.leases, was, now)
			var got []string
			for _, tn := range stale {
				if tn.Namespace != "shop" {
					t.Errorf("woke %s in namespace %q", tn.Name, tn.Namespace)
				}
				got = append(got, tn.Name)
			}
			if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
				t.Errorf("woke %v, want %v", got, c.want)
			}
			for _, l := range c.leases {
				if want := l.Spec.RenewTime != nil && now.Sub(l.Spec.RenewTime.Time) < 15*time.Second; live[key(l.Name)] != want {
					t.Errorf("%s: live = %v, want %v", l.Name, live[key(l.Name)], want)
				}
			}
		})
	}
}
