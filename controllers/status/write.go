package status

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	return nil
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
