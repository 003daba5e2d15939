// Package statetest builds issuer state records in a real API server and
// reads back what collection left, for the collector's tests and the
// Tenant reconciler's (which reports the collector's counts in status).
package statetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store/kube"
)

// CreateAll creates objs with a few workers.
func CreateAll(t testing.TB, c client.Client, objs []client.Object) {
	t.Helper()
	ctx := context.Background()
	next := make(chan client.Object)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for o := range next {
				if err := c.Create(ctx, o); err != nil {
					errs <- fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
				}
			}
		})
	}
	for _, o := range objs {
		next <- o
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Records builds state records of one tenant, owned by it as the issuer
// creates them. expired controls which side of now each kind falls.
type Records struct {
	NS, Tenant string
	UID        types.UID
	Now        time.Time
}

func (r Records) meta(name string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: r.NS, Labels: map[string]string{statev1alpha1.TenantLabel: r.Tenant}}
	if r.UID != "" {
		yes := true
		m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "idtenant.dev/v1alpha1", Kind: "Tenant", Name: r.Tenant, UID: r.UID, BlockOwnerDeletion: &yes}}
	}
	return m
}

func (r Records) at(d time.Duration) metav1.Time {
	return metav1.NewTime(r.Now.Add(d).Truncate(time.Second))
}

// Session is live when lastActivity is recent (the tests' tenants idle out
// after 1h).
func (r Records) Session(name string, lastActivity time.Duration) *statev1alpha1.Session {
	return &statev1alpha1.Session{ObjectMeta: r.meta(name), Spec: statev1alpha1.SessionSpec{
		SID: name, Subject: "alice", AuthTime: r.at(-3 * time.Hour), LastActivity: r.at(lastActivity), UserFingerprint: "fp"}}
}

func (r Records) Code(name string, expiresIn time.Duration) *statev1alpha1.AuthorizationCode {
	return &statev1alpha1.AuthorizationCode{ObjectMeta: r.meta(name), Spec: statev1alpha1.AuthorizationCodeSpec{
		ClientID: "shop", RedirectURI: "https://shop.example/cb", SessionKey: "s", SID: "s", Subject: "alice",
		AuthTime: r.at(-time.Hour), ExpiresAt: r.at(expiresIn)}}
}

func (r Records) Family(name string, expiresIn time.Duration, revoked bool) *statev1alpha1.RefreshFamily {
	f := &statev1alpha1.RefreshFamily{ObjectMeta: r.meta(name), Spec: statev1alpha1.RefreshFamilySpec{
		ClientID: "shop", Subject: "alice", AuthTime: r.at(-time.Hour), UserFingerprint: "fp",
		GrantedAt: r.at(-time.Hour), LastUsed: r.at(-time.Minute), Current: "c", ExpiresAt: r.at(expiresIn)}}
	if revoked {
		at := r.at(-time.Minute)
		f.Spec.RevokedAt = &at
	}
	return f
}

func (r Records) Revoked(name string, expiresIn time.Duration) *statev1alpha1.RevokedToken {
	return &statev1alpha1.RevokedToken{ObjectMeta: r.meta(name), Spec: statev1alpha1.RevokedTokenSpec{ClientID: "shop", ExpiresAt: r.at(expiresIn)}}
}

// Remaining lists the names and resourceVersions of a tenant's records.
func Remaining(g Gomega, c client.Client, ns, tenant string) map[string]string {
	out := map[string]string{}
	for _, k := range kube.Kinds {
		kind, cont := k.Name, ""
		for {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(statev1alpha1.GroupVersion.WithKind(kind + "List"))
			g.Expect(c.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{statev1alpha1.TenantLabel: tenant},
				client.Limit(1000), client.Continue(cont))).To(Succeed())
			for _, o := range list.Items {
				out[kind+"/"+o.Name] = o.ResourceVersion
			}
			if cont = list.Continue; cont == "" {
				break
			}
		}
	}
	return out
}

// Metric sums the series of name for a tenant whose kind and state labels
// match (empty: any).
func Metric(g Gomega, name, ns, tenant, kind string, state ...string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var sum float64
	found := false
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["namespace"] != ns || l["tenant"] != tenant || (kind != "" && l["kind"] != kind) || (len(state) > 0 && l["state"] != state[0]) {
				continue
			}
			found = true
			sum += value(m)
		}
	}
	g.Expect(found).To(BeTrue(), "no series of %s for %s/%s", name, ns, tenant)
	return sum
}

func value(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}
