package limiter

import (
	"sync"
	"time"
)

// Budget allows at most max events per key in each window of length per,
// in memory, per process. It bounds what one session or one client can
// make the issuer write (security review N1: codes per session,
// revocations per client), where the state quota alone would let one of
// them fill the namespace's share for everyone.
type Budget struct {
	mu      sync.Mutex
	max     int
	per     time.Duration
	windows map[string]budgetWindow
}

type budgetWindow struct {
	start time.Time
	count int
}

// maxBudgetKeys bounds the table; past it, windows that ended are dropped,
// and if none has, the event is allowed rather than remembered (the keys
// are sessions and clients, which cost a login or an Application each).
const maxBudgetKeys = 100_000

// NewBudget allows max events per key per window of length per.
func NewBudget(max int, per time.Duration) *Budget {
	return &Budget{max: max, per: per, windows: map[string]budgetWindow{}}
}

// Allow counts one event of key at now and reports whether it is within
// the budget.
func (b *Budget) Allow(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.windows[key]
	if !ok || now.Sub(w.start) >= b.per || now.Before(w.start) {
		if !ok && len(b.windows) >= maxBudgetKeys {
			for k, old := range b.windows {
				if now.Sub(old.start) >= b.per {
					delete(b.windows, k)
				}
			}
			if len(b.windows) >= maxBudgetKeys {
				return true
			}
		}
		w = budgetWindow{start: now}
	}
	if w.count >= b.max {
		return false
	}
	w.count++
	b.windows[key] = w
	return true
}
