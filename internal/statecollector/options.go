package statecollector

import (
	"time"
)

// Options tunes the collection of expired issuer state records.
// Zero fields take the defaults.
type Options struct {
	// Period between the starts of two passes over every Tenant's
	// records. Default 30s.
	Period time.Duration
	// BusyPeriod is the pause before the next round while a pass is
	// unfinished (a round's list budget ran out) or a pass left expired
	// records for lack of delete budget. Default 2s.
	BusyPeriod time.Duration
	// Budget is the most delete requests one round sends. Default 2000.
	Budget int
	// ListBudget is the most records one round lists, over all Tenants;
	// a list request counts at least one. Default 4000 (8 pages).
	ListBudget int
	// PageSize is the most records one list request returns. Default 500.
	PageSize int64
	// Workers send a page's deletes in parallel. Default 4.
	Workers int
	// StatusInterval is the least time between two wakes of one Tenant's
	// reconciler to publish changed numbers. Default 1m.
	StatusInterval time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Period, 30*time.Second)
	def(&o.BusyPeriod, 2*time.Second)
	def(&o.StatusInterval, time.Minute)
	if o.Budget <= 0 {
		o.Budget = 2000
	}
	if o.ListBudget <= 0 {
		o.ListBudget = 4000
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	return o
}
