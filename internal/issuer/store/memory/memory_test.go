package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return New() })
}

func TestConformanceSharedStore(t *testing.T) {
	s := New()
	storetest.Run(t, func(*testing.T) store.Store { return s })
}

func TestCollectDeletesWhatExpired(t *testing.T) {
	ctx := t.Context()
	s := New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := func(kind store.Kind, secret string) string { return store.Key([]byte("k"), kind, secret) }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Sessions().Create(ctx, key(store.KindSession, "ended"), store.Session{Subject: "ended"}))
	must(s.Sessions().Create(ctx, key(store.KindSession, "alive"), store.Session{Subject: "alive"}))
	// Expiry is inclusive: a record expiring at now is collected.
	must(s.Codes().Create(ctx, key(store.KindCode, "old"), store.Code{ExpiresAt: t0}))
	must(s.Codes().Create(ctx, key(store.KindCode, "new"), store.Code{ExpiresAt: t0.Add(time.Second)}))
	must(s.Families().Create(ctx, key(store.KindFamily, "old"), store.RefreshFamily{ExpiresAt: t0.Add(-time.Hour)}))
	must(s.Families().Create(ctx, key(store.KindFamily, "new"), store.RefreshFamily{ExpiresAt: t0.Add(time.Hour)}))
	must(s.Revocations().Create(ctx, key(store.KindRevocation, "old"), store.Revocation{ExpiresAt: t0}))

	deleted := s.Collect(t0, func(x store.Session) bool { return x.Subject == "ended" })
	want := map[store.Kind]int{store.KindSession: 1, store.KindCode: 1, store.KindFamily: 1, store.KindRevocation: 1}
	for _, k := range store.Kinds {
		if deleted[k] != want[k] {
			t.Errorf("Collect deleted %d %s records, want %d", deleted[k], k, want[k])
		}
	}
	left := s.Len()
	wantLeft := map[store.Kind]int{store.KindSession: 1, store.KindCode: 1, store.KindFamily: 1, store.KindRevocation: 0}
	for _, k := range store.Kinds {
		if left[k] != wantLeft[k] {
			t.Errorf("%d %s records left, want %d", left[k], k, wantLeft[k])
		}
	}
	for _, c := range []struct {
		err  error
		what string
	}{
		{get(s.Sessions(), key(store.KindSession, "alive")), "live session"},
		{get(s.Codes(), key(store.KindCode, "new")), "unexpired code"},
		{get(s.Families(), key(store.KindFamily, "new")), "unexpired family"},
	} {
		if c.err != nil {
			t.Errorf("%s: %v", c.what, c.err)
		}
	}
	for _, err := range []error{
		get(s.Sessions(), key(store.KindSession, "ended")),
		get(s.Codes(), key(store.KindCode, "old")),
		get(s.Families(), key(store.KindFamily, "old")),
		get(s.Revocations(), key(store.KindRevocation, "old")),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("collected record: %v, want ErrNotFound", err)
		}
	}
	// Nothing more to collect.
	for k, n := range s.Collect(t0, func(store.Session) bool { return false }) {
		if n != 0 {
			t.Errorf("second Collect deleted %d %s records", n, k)
		}
	}
}

func get[T any](tb store.Table[T], key string) error {
	_, err := tb.Get(context.Background(), key)
	return err
}
