package status

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestLogDecisions: a change of Ready (served, or refused and why) and of
// LifetimesClamped is logged once, at Info, with the same keys for every
// kind; progress and unchanged conditions are not.
func TestLogDecisions(t *testing.T) {
	var lines []string
	ctx := log.IntoContext(context.Background(), funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{}))
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: reason + " because"}
	}
	refused := []metav1.Condition{cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPolicyViolation)}
	served := []metav1.Condition{cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReady),
		cond(v1alpha1.ConditionLifetimesClamped, metav1.ConditionTrue, "Clamped")}

	logDecisions(ctx, nil, refused)
	logDecisions(ctx, refused, refused) // unchanged: nothing
	logDecisions(ctx, refused, served)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (refused; served; clamped):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, want := range []string{`"reason"="PolicyViolation"`, `"condition"="Ready" "status"="True"`, `"condition"="LifetimesClamped"`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %s: want %s", i, lines[i], want)
		}
	}
}
