package controllers_test

import (
	"context"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/follow"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// annotationNoFleet opts a Tenant out of the stand-in replicas, for tests
// that drive the Lease slots themselves.
const annotationNoFleet = "test.idtenant.dev/no-fleet"

// runFleet stands in for issuer replicas in the operator's tests: for every
// Tenant it holds one Lease slot and reports the generation found in the
// Tenant's config Secret, as a replica that loads every generation would.
// It tests the operator's side of the contract; the end-to-end tests run the
// real issuer processes.
func runFleet(ctx context.Context, cs kubernetes.Interface) {
	var mu sync.Mutex
	replicas := map[client.ObjectKey]*follow.Leases{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		var tenants v1alpha1.TenantList
		if err := k8s.List(ctx, &tenants); err != nil {
			continue
		}
		for i := range tenants.Items {
			t := &tenants.Items[i]
			if t.Annotations[annotationNoFleet] != "" {
				continue
			}
			primary := &corev1.Secret{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: issuerconfig.SecretName(t.Name)}, primary); err != nil {
				continue
			}
			gen, _ := strconv.ParseInt(primary.Annotations["idtenant.dev/config-generation"], 10, 64)
			key := client.ObjectKeyFromObject(t)
			mu.Lock()
			l := replicas[key]
			if l == nil {
				l = &follow.Leases{Client: cs, Namespace: t.Namespace, Prefix: issuerconfig.IssuerName(t.Name), Slots: 2, Identity: "fleet-" + t.Name}
				replicas[key] = l
			}
			mu.Unlock()
			_ = l.Renew(ctx, follow.Report{Generation: gen})
		}
	}
}
