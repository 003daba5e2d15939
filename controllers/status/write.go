package status

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Conditioned is an idtenant object with status conditions.
type Conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// PatchStatus writes obj's status, changed in memory from before, and
// records an Event when Ready changes. Every reconciler ends here. A
// reconcile that changed nothing sends nothing: at thousands of objects the
// empty patches would be most of the API server's load.
func PatchStatus[T Conditioned](ctx context.Context, c client.Client, rec events.EventRecorder, obj, before T) error {
	patch := client.MergeFrom(before)
	data, err := patch.Data(obj)
	if err != nil {
		return fmt.Errorf("computing status patch of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	if string(data) == "{}" {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(patch.Type(), data)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted while we reconciled: no status to write
		}
		return fmt.Errorf("patching status of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	recordReadyTransition(rec, obj, before.GetConditions(), obj.GetConditions())
	logDecisions(ctx, before.GetConditions(), obj.GetConditions())
	return nil
}

// logDecisions logs at Info what a reconcile decided that a user would
// want to read, once, when it changes: whether the object is Ready (served)
// or why not (rejected by policy, a missing reference, ...), and whether
// its lifetimes were clamped. The object is in the logger's context
// (controller-runtime's "Tenant", "Application", "API" keys); the keys
// here, "ready", "reason", "message", are the same for every kind.
func logDecisions(ctx context.Context, before, after []metav1.Condition) {
	logger := log.FromContext(ctx)
	for _, typ := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionLifetimesClamped} {
		was, now := meta.FindStatusCondition(before, typ), meta.FindStatusCondition(after, typ)
		if now == nil || (was != nil && was.Status == now.Status && was.Reason == now.Reason) {
			continue
		}
		if typ == v1alpha1.ConditionReady && waiting(now) {
			continue // progress, not a decision (see recordReadyTransition)
		}
		logger.Info("decided", "condition", typ, "status", string(now.Status), "reason", now.Reason, "message", Truncate(now.Message, 512))
	}
}

// PatchTransient records a failed reconcile without touching what was
// observed before (see markTransient).
func PatchTransient[T Conditioned](ctx context.Context, c client.Client, rec events.EventRecorder, obj T, cause error) error {
	before := obj.DeepCopyObject().(T)
	conds := obj.GetConditions()
	markTransient(&conds, obj.GetGeneration(), cause)
	obj.SetConditions(conds)
	return PatchStatus(ctx, c, rec, obj, before)
}
