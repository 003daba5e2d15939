package status

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func TestReadinessKeepsTransitionTime(t *testing.T) {
	var conds []metav1.Condition
	SetKstatusConditions(&conds, 1, waitingFor("TenantNotFound", "gone"))
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	conds[0].LastTransitionTime = then
	SetKstatusConditions(&conds, 2, waitingFor("TenantNotFound", "still gone"))
	ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if !ready.LastTransitionTime.Equal(&then) || ready.Message != "still gone" || ready.ObservedGeneration != 2 {
		t.Errorf("unchanged status must keep lastTransitionTime: %+v", ready)
	}
	SetKstatusConditions(&conds, 2, ReadyWith("fine"))
	if meta.FindStatusCondition(conds, v1alpha1.ConditionReconciling) != nil {
		t.Error("Reconciling must be removed once ready")
	}
}

func TestTransientErrorKeepsObservedStatus(t *testing.T) {
	conds := []metav1.Condition{}
	SetKstatusConditions(&conds, 4, stalledBy(v1alpha1.ReasonPolicyViolation, "too long"))
	markTransient(&conds, 5, errors.New("etcd leader changed"))
	ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if ready.Status != metav1.ConditionUnknown || ready.Reason != v1alpha1.ReasonReconcileError || ready.Message != "Retrying after an error: etcd leader changed" {
		t.Errorf("Ready = %+v", ready)
	}
	if meta.FindStatusCondition(conds, v1alpha1.ConditionStalled) != nil || meta.FindStatusCondition(conds, v1alpha1.ConditionReconciling) == nil {
		t.Errorf("a transient error is progress, not a stall: %+v", conds)
	}
}
