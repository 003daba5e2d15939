package issuer

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// timedStore wraps a store so that every call is observed in latency, by
// table, operation and result. The protocol code keeps seeing one Store;
// the backends stay free of metrics.
func timedStore(s store.Store, latency *prometheus.HistogramVec, quotaRefusals *prometheus.CounterVec) store.Store {
	return &timed{
		sessions:    timedTable[store.Session]{s.Sessions(), "sessions", latency, quotaRefusals},
		codes:       timedTable[store.Code]{s.Codes(), "codes", latency, quotaRefusals},
		families:    timedTable[store.RefreshFamily]{s.Families(), "families", latency, quotaRefusals},
		revocations: timedTable[store.Revocation]{s.Revocations(), "revocations", latency, quotaRefusals},
		consents:    timedTable[store.Consent]{s.Consents(), "consents", latency, quotaRefusals},
	}
}

type timed struct {
	sessions    timedTable[store.Session]
	codes       timedTable[store.Code]
	families    timedTable[store.RefreshFamily]
	revocations timedTable[store.Revocation]
	consents    timedTable[store.Consent]
}

func (t *timed) Sessions() store.Table[store.Session]       { return t.sessions }
func (t *timed) Codes() store.Table[store.Code]             { return t.codes }
func (t *timed) Families() store.Table[store.RefreshFamily] { return t.families }
func (t *timed) Revocations() store.Table[store.Revocation] { return t.revocations }
func (t *timed) Consents() store.Table[store.Consent]       { return t.consents }

type timedTable[T any] struct {
	next          store.Table[T]
	name          string
	latency       *prometheus.HistogramVec
	quotaRefusals *prometheus.CounterVec
}

func (t timedTable[T]) observe(operation string, start time.Time, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		result = "not_found"
	case errors.Is(err, store.ErrConflict):
		result = "conflict"
	case errors.Is(err, store.ErrQuota):
		result = "quota"
		t.quotaRefusals.WithLabelValues(t.name).Inc()
	default:
		result = "error"
	}
	t.latency.WithLabelValues(t.name, operation, result).Observe(time.Since(start).Seconds())
}

func (t timedTable[T]) Get(ctx context.Context, key string) (store.Record[T], error) {
	start := time.Now()
	rec, err := t.next.Get(ctx, key)
	t.observe("get", start, err)
	return rec, err
}

func (t timedTable[T]) Create(ctx context.Context, key string, value T) (store.Record[T], error) {
	start := time.Now()
	rec, err := t.next.Create(ctx, key, value)
	t.observe("create", start, err)
	return rec, err
}

func (t timedTable[T]) Update(ctx context.Context, rec store.Record[T]) (store.Record[T], error) {
	start := time.Now()
	out, err := t.next.Update(ctx, rec)
	t.observe("update", start, err)
	return out, err
}

func (t timedTable[T]) Delete(ctx context.Context, key, version string) error {
	start := time.Now()
	err := t.next.Delete(ctx, key, version)
	t.observe("delete", start, err)
	return err
}
