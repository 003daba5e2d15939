package statecollector

import (
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/kube"
)

// kindTally is what a pass found of one kind.
type kindTally struct {
	live, counted, awaiting, collected int64
	oldestExpired                      time.Time
}

func (k *kindTally) expired(at time.Time) {
	k.awaiting++
	if k.oldestExpired.IsZero() || at.Before(k.oldestExpired) {
		k.oldestExpired = at
	}
}

// tally is what one pass over a tenant's records found, per kind.
type tally [len(store.Kinds)]kindTally

// status sums a pass up at now.
func (t *tally) status(now time.Time) v1alpha1.StateStatus {
	st := v1alpha1.StateStatus{LastCollectedAt: &metav1.Time{Time: now.Truncate(time.Second)}}
	var oldest time.Time
	for i, k := range t {
		switch kube.Kinds[i].Kind {
		case store.KindSession:
			st.Sessions = k.counted
		case store.KindFamily:
			st.RefreshFamilies = k.counted
		}
		st.AwaitingCollection += k.awaiting
		st.Collected += k.collected
		if !k.oldestExpired.IsZero() && (oldest.IsZero() || k.oldestExpired.Before(oldest)) {
			oldest = k.oldestExpired
		}
	}
	if !oldest.IsZero() {
		st.OldestExpiredAge = metav1.Duration{Duration: now.Sub(oldest).Truncate(time.Second)}
	}
	return st
}

// raisedBy returns t with the backlog a pass in progress has already found
// where that is larger (more records awaiting collection of a kind, an
// older one), and whether anything was raised.
func (t tally) raisedBy(sofar *tally) (tally, bool) {
	raised := false
	for i := range t {
		k, s := &t[i], &sofar[i]
		if s.awaiting > k.awaiting {
			k.awaiting, raised = s.awaiting, true
		}
		if !s.oldestExpired.IsZero() && (k.oldestExpired.IsZero() || s.oldestExpired.Before(k.oldestExpired)) {
			k.oldestExpired, raised = s.oldestExpired, true
		}
	}
	return t, raised
}

// pass is one walk over a tenant's records, kind after kind, page after
// page. It may span rounds: each resumes from the continue token where the
// last one stopped.
type pass struct {
	// kind is the index in kube.Kinds of the kind being listed; cont the
	// continue token of its next page, "" for its first.
	kind int
	cont string
	// found is what the pages listed so far held.
	found tally
	// skipped counts expired records left for lack of delete budget: the
	// next pass, started without waiting for Period, comes back for them.
	skipped int64
	// restarted: a continue token expired once during this pass and it
	// started over. The next expiry continues from the API server's
	// fresh token instead (past the records listed, at the latest
	// version), so a pass longer than the API server keeps history still
	// ends.
	restarted bool
}

// expired handles a continue token the API server no longer honours (410
// Expired: older than its compaction): the pass starts over, keeping what
// it deleted, unless it did so already and the API server offered a token
// to continue from.
func (p *pass) expired(err error) {
	var status apierrors.APIStatus
	if p.restarted && errors.As(err, &status) && status.Status().Continue != "" {
		p.cont = status.Status().Continue
		return
	}
	restarted := pass{restarted: true}
	for i := range p.found {
		restarted.found[i].collected = p.found[i].collected
	}
	*p = restarted
}

// tenantProgress is what the collector keeps of one Tenant between rounds.
type tenantProgress struct {
	uid types.UID
	// backend is the store the pass and numbers are of.
	backend v1alpha1.StateType
	// pass is in progress, nil between passes.
	pass *pass
	// last is what the last complete pass found, and when it ended; nil
	// before the first.
	last   *tally
	lastAt time.Time
	// again: the last complete pass left expired records for lack of
	// delete budget; the next one starts without waiting for Period.
	again bool
	// failed: the last visit stopped on an error; it is retried, but
	// does not hurry the next round.
	failed bool
}

// budgets is what remains of a round's budgets.
type budgets struct {
	// list counts records listed, each list request at least one.
	list int
	// deletes counts delete requests.
	deletes int
}

func compareKeys(a, b types.NamespacedName) int {
	switch as, bs := a.String(), b.String(); {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}
