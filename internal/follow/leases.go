package follow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Report is what a replica says about itself on its Lease.
type Report struct {
	// Generation is the configuration generation served.
	Generation int64
	// Error is why the newest generation could not be loaded ("" if it was).
	Error string
}

// Leases claims one of the tenant's Lease slots and renews it with the
// replica's Report. Slots are created by the operator (RBAC cannot limit
// "create" to names); a replica takes the first slot that is free or whose
// holder stopped renewing, and optimistic concurrency (resourceVersion)
// makes sure two replicas never hold the same slot.
type Leases struct {
	Client    kubernetes.Interface
	Namespace string
	// Prefix names the slots Prefix-0, Prefix-1, …
	Prefix string
	// Slots, if above zero, is how many slots there are. Zero probes them:
	// slots are tried in order until one does not exist or this replica
	// may not read it (its Role names exactly the slots the operator
	// created). Probing is what the issuer does, so that the slot count is
	// not in the pod template and scaling the Tenant restarts no replica.
	Slots int32
	// Identity is this replica's name (the pod name).
	Identity string
	// Duration is how long a Lease stays live without renewal. Default 15s;
	// the replica renews every third of it.
	Duration time.Duration
	// ReportCheck is how often Run compares the Report with the one last
	// written and, when it changed (a new generation served, a load error),
	// writes it at once rather than at the next renewal. Default 50ms; the
	// comparison reads two in-memory values, so only a change costs a
	// request.
	ReportCheck time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnError hears failed renewals (no free slot, API trouble); the
	// replica keeps serving and retries on the next tick.
	OnError func(error)

	held string // name of the slot held, "" if none
	// last is the held Lease as this replica last wrote it: a renewal is
	// one Update at its resourceVersion, not a Get and an Update.
	last *coordinationv1.Lease
}

func (l *Leases) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Leases) duration() time.Duration {
	if l.Duration == 0 {
		return 15 * time.Second
	}
	return l.Duration
}

// Held is the name of the slot this replica holds, "" if none.
func (l *Leases) Held() string { return l.held }

// Run renews until ctx ends, then releases the slot so the operator stops
// counting this replica at once. A changed Report is written within
// ReportCheck, so status follows a new generation within a fraction of a
// second instead of up to a renewal period later; a write that fails is
// retried at the next renewal, not at every check, so an API server in
// trouble sees no more requests than before.
func (l *Leases) Run(ctx context.Context, report func() Report) error {
	period := l.duration() / 3
	renew := time.NewTicker(period)
	defer renew.Stop()
	check := time.NewTicker(l.reportCheck())
	defer check.Stop()
	last := report()
	write := func(r Report) {
		last = r
		// A write under way finishes even when ctx ends meanwhile: cut
		// short, the request could still land after Release read the
		// slot, and Renew would have forgotten the slot it holds, leaving
		// it held by a replica that is gone until it expires.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), period)
		defer cancel()
		if err := l.Renew(wctx, r); err != nil && l.OnError != nil && ctx.Err() == nil {
			l.OnError(err) // retried on the next renewal
		}
	}
	write(last)
	for {
		select {
		case <-ctx.Done():
			release, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return l.Release(release)
		case <-renew.C:
			write(report())
		case <-check.C:
			if r := report(); r != last {
				write(r)
				renew.Reset(period) // that write was a renewal too
			}
		}
	}
}

func (l *Leases) reportCheck() time.Duration {
	if l.ReportCheck == 0 {
		return 50 * time.Millisecond
	}
	return l.ReportCheck
}

// Renew writes r to the held slot, claiming one first if needed.
func (l *Leases) Renew(ctx context.Context, r Report) error {
	if l.held != "" {
		// One request while nobody else wrote the slot: an Update at the
		// version written last. A conflict means someone did (the slot was
		// taken over after this replica stalled, or edited): read it and
		// judge as before.
		if l.last != nil && l.update(ctx, l.last.DeepCopy(), r, true) == nil {
			return nil
		}
		err := l.write(ctx, l.held, r, false)
		if err == nil {
			return nil
		}
		l.held, l.last = "", nil // lost it (taken over after we stalled): claim again
	}
	tried := int32(0)
	for ; tried < maxSlots && (l.Slots == 0 || tried < l.Slots); tried++ {
		name := fmt.Sprintf("%s-%d", l.Prefix, tried)
		err := l.write(ctx, name, r, true)
		switch {
		case err == nil:
			l.held = name
			return nil
		case errors.Is(err, errTaken) || apierrors.IsConflict(err):
			continue // held by a live replica, or claimed by one just now
		case l.Slots == 0 && (apierrors.IsNotFound(err) || apierrors.IsForbidden(err)) && tried > 0:
			// Past the last slot: it does not exist, or the Role (which
			// names exactly the slots the operator created) does not
			// cover it.
			return fmt.Errorf("no free Lease slot among %s-0..%d for %s", l.Prefix, tried-1, l.Identity)
		default:
			// Slot 0 always exists once the operator has run; anything else
			// (no RoleBinding yet, an expired token, the API server away)
			// is worth saying as it is, and not worth probing further for.
			return fmt.Errorf("claiming Lease slot %s for %s: %w", name, l.Identity, err)
		}
	}
	return fmt.Errorf("no free Lease slot among %s-0..%d for %s", l.Prefix, tried-1, l.Identity)
}

// maxSlots bounds probing; a Tenant allows at most 20 replicas.
const maxSlots = 64

var errTaken = errors.New("lease held by another replica")

// write updates slot name with r. With claim, it takes the slot only if it is
// free or expired; without, only if this replica still holds it.
func (l *Leases) write(ctx context.Context, name string, r Report, claim bool) error {
	leases := l.Client.CoordinationV1().Leases(l.Namespace)
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	mine := lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity == l.Identity
	if !mine && (!claim || issuerconfig.Live(lease, l.now())) {
		return errTaken
	}
	return l.update(ctx, lease, r, mine)
}

// update stamps lease (read from the API server, or as last written) with
// this replica as holder and r, and writes it at its resourceVersion.
func (l *Leases) update(ctx context.Context, lease *coordinationv1.Lease, r Report, mine bool) error {
	now := l.now()
	secs := int32(l.duration() / time.Second)
	micro := metav1.NewMicroTime(now)
	lease.Spec.HolderIdentity = &l.Identity
	lease.Spec.LeaseDurationSeconds = &secs
	lease.Spec.RenewTime = &micro
	if !mine {
		lease.Spec.AcquireTime = &micro
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[issuerconfig.AnnotationServedGeneration] = strconv.FormatInt(r.Generation, 10)
	lease.Annotations[issuerconfig.AnnotationConfigError] = r.Error
	written, err := l.Client.CoordinationV1().Leases(l.Namespace).Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	l.last = written
	return nil
}

// Release frees the held slot.
func (l *Leases) Release(ctx context.Context) error {
	if l.held == "" {
		return nil
	}
	leases := l.Client.CoordinationV1().Leases(l.Namespace)
	lease, err := leases.Get(ctx, l.held, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != l.Identity {
		return nil
	}
	lease.Spec.HolderIdentity = nil
	lease.Spec.RenewTime = nil
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	l.held, l.last = "", nil
	return err
}
