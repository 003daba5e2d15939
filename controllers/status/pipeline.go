package status

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Step is one ordered sub-step of a Reconcile: it reads or writes what it
// owns and records what it saw in the observation O. Its comment names the
// conditions it feeds.
type Step[T any, O any] func(context.Context, T, *O) error

// Pipeline is the one shape of every idtenant Reconcile, shared as Flux
// shares its SummarizeAndPatch helper:
//
//  1. get the object; a deleted one is forgotten (Forget, its status
//     metrics);
//  2. leave an object being deleted alone: what it owns goes with it;
//  3. Start an observation and choose the steps;
//  4. run the steps in order until one fails;
//  5. write status once: after a failure, only the transient error is
//     recorded and what was observed before stays (PatchTransient);
//     otherwise Status derives the whole status from the observation,
//     patches it and says when to look again.
//
// Each reconciler keeps only its steps and its status function.
type Pipeline[T Conditioned, O any] struct {
	Client   client.Client
	Recorder events.EventRecorder
	// Kind labels the status metrics of the objects.
	Kind string
	// New returns an empty object to read into.
	New func() T
	// Forget, if set, drops what the reconciler remembers of a deleted
	// object.
	Forget func(types.NamespacedName)
	// Start begins the observation of obj and chooses the steps that fill
	// it.
	Start func(ctx context.Context, obj T) (*O, []Step[T, O])
	// Recover, if set, may turn a step's error into part of the
	// observation (a problem status reports) instead of a retry: it
	// returns the error that remains, nil when status says it all.
	Recover func(obs *O, err error) error
	// Status writes obj's status from a complete observation and says
	// when to reconcile again; a stalled object returns a terminal error.
	Status func(ctx context.Context, obj T, obs *O) (ctrl.Result, error)
}

// Reconcile runs the pipeline for req.
func (p *Pipeline[T, O]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := p.New()
	if err := p.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			if p.Forget != nil {
				p.Forget(req.NamespacedName)
			}
			ObjectMetrics.Forget(p.Kind, req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, nil
	}
	obs, steps := p.Start(ctx, obj)
	err := runSteps(ctx, obj, obs, steps)
	if err != nil && p.Recover != nil {
		err = p.Recover(obs, err)
	}
	if err != nil {
		return ctrl.Result{}, errors.Join(err, PatchTransient(ctx, p.Client, p.Recorder, obj, err))
	}
	return p.Status(ctx, obj, obs)
}

// runSteps runs the steps in order until one fails.
func runSteps[T any, O any](ctx context.Context, obj T, obs *O, steps []Step[T, O]) error {
	for _, step := range steps {
		if err := step(ctx, obj, obs); err != nil {
			return err
		}
	}
	return nil
}
