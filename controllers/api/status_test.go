package api

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// An empty observation (the Tenant not looked up yet) must not panic, and
// is not Ready.
func TestEmptyObservationIsNotReady(t *testing.T) {
	api := &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n"}}
	if st := APIStatus(api, APIObservation{}); meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady).Status != metav1.ConditionFalse {
		t.Errorf("empty observation: %+v", st.Conditions)
	}
}
