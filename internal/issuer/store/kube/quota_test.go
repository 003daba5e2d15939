package kube_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/storetest"
)

// TestQuota: under the namespace's ResourceQuota (spec.state.quota) a
// burst of concurrent creates all land, and the create beyond the count
// is store.ErrQuota, which the issuer answers with its own message and
// metric. (No quota controller runs here: the test initialises the
// quota's status itself, as the controller would. The conflicts the quota
// admission sometimes returns on a loaded API server, which Create
// retries, did not occur here even without the retry.)
func TestQuota(t *testing.T) {
	s, ns, _ := issuerStore(t)
	ctx := context.Background()
	const hard = 40
	name := corev1.ResourceName("count/revokedtokens.state.idtenant.dev")
	// Sessions: none allowed, so that a probe can tell when the API
	// server's quota admission (which reads quotas from an informer) has
	// seen this one.
	sessions := corev1.ResourceName("count/sessions.state.idtenant.dev")
	zero := *resource.NewQuantity(0, resource.DecimalSI)
	q, err := admin.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "acme-state"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{name: *resource.NewQuantity(hard, resource.DecimalSI), sessions: zero}}}, metav1.CreateOptions{})
	must(t, err)
	q.Status = corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: corev1.ResourceList{name: zero, sessions: zero}}
	_, err = admin.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{})
	must(t, err)
	sess, _, _, rev, _ := storetest.Samples(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	deadline := time.Now().Add(10 * time.Second)
	for probe := 0; ; probe++ {
		_, err := s.Sessions().Create(ctx, store.Key([]byte("k"), store.KindSession, fmt.Sprint("probe-", probe)), sess)
		if errors.Is(err, store.ErrQuota) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the quota admission does not enforce the quota after 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var wg sync.WaitGroup
	errs := make(chan error, hard)
	for i := range hard {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Revocations().Create(ctx, store.Key([]byte("k"), store.KindRevocation, fmt.Sprint("jti-", i)), rev)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a create within the quota, %d at once: %v", hard, err)
		}
	}
	_, err = s.Revocations().Create(ctx, store.Key([]byte("k"), store.KindRevocation, "one-too-many"), rev)
	if !errors.Is(err, store.ErrQuota) || !store.IsUnavailable(err) {
		t.Errorf("the create beyond the quota: %v, want ErrQuota", err)
	}
}
