// Package storetest is the conformance suite every issuer state backend
// passes: one table of cases, run for every record kind, so that protocol
// code can rely on the semantics documented in package store whatever
// backend a tenant uses.
//
// Conventions the suite fixes for every backend:
//
//   - Times are kept to the second and read back in UTC (a Kubernetes
//     metav1.Time is an RFC 3339 string without fractions). The suite uses
//     times already truncated to whole seconds, UTC; callers must not rely on
//     sub-second precision.
//   - A zero time in an optional field reads back as the zero time.
//   - An empty slice may read back as nil; the suite stores nil.
//   - An Update is a write even when the value is unchanged: the version
//     moves, so two callers writing back what they read cannot both win.
//   - Every case uses its own keys, so a backend may share one store (one
//     namespace, one database) across cases.
package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// Racers is how many goroutines race on one record in the race cases.
const Racers = 8

// Run runs every conformance case against the store open returns. open is
// called once per case (and record kind); it may return a fresh store or
// the same one.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	base := time.Now().UTC().Truncate(time.Second)
	runKind(t, open, sessionKind(base))
	runKind(t, open, codeKind(base))
	runKind(t, open, familyKind(base))
	runKind(t, open, revocationKind(base))
	runKind(t, open, consentKind(base))
}

// Kind describes one record kind to the suite.
type kind[T any] struct {
	name  store.Kind
	table func(store.Store) store.Table[T]
	// full sets every field; changed differs from full in every field;
	// sparse leaves every optional field zero.
	full, changed, sparse T
}

// conformance is the one table of cases, run for every kind.
func conformance[T any]() []struct {
	name string
	run  func(t *testing.T, tb store.Table[T], k kind[T])
} {
	return []struct {
		name string
		run  func(t *testing.T, tb store.Table[T], k kind[T])
	}{
		{"GetMissing", func(t *testing.T, tb store.Table[T], k kind[T]) {
			if _, err := tb.Get(t.Context(), newKey(t, k.name)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
			}
		}},
		{"CreateGetRoundTripsEveryField", func(t *testing.T, tb store.Table[T], k kind[T]) {
			checkAllSet(t, k.full)
			key := newKey(t, k.name)
			rec := mustCreate(t, tb, key, k.full)
			if rec.Key != key || rec.Version == "" {
				t.Fatalf("Create returned key %q version %q; want key %q and a version", rec.Key, rec.Version, key)
			}
			equal(t, "Create's value", rec.Value, k.full)
			got := mustGet(t, tb, key)
			if got.Key != key || got.Version != rec.Version {
				t.Fatalf("Get returned key %q version %q; want %q at %q", got.Key, got.Version, key, rec.Version)
			}
			equal(t, "Get's value", got.Value, k.full)
		}},
		{"ZeroOptionalFieldsRoundTrip", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			rec := mustCreate(t, tb, key, k.sparse)
			equal(t, "Create's value", rec.Value, k.sparse)
			equal(t, "Get's value", mustGet(t, tb, key).Value, k.sparse)
			// Setting then clearing optional fields clears them.
			rec = mustUpdate(t, tb, store.Record[T]{Key: key, Version: rec.Version, Value: k.full})
			rec = mustUpdate(t, tb, store.Record[T]{Key: key, Version: rec.Version, Value: k.sparse})
			equal(t, "value after clearing", mustGet(t, tb, key).Value, k.sparse)
		}},
		{"CreateExistingConflicts", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			rec := mustCreate(t, tb, key, k.full)
			if _, err := tb.Create(t.Context(), key, k.changed); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("second Create: %v, want ErrConflict", err)
			}
			got := mustGet(t, tb, key)
			if got.Version != rec.Version {
				t.Fatalf("a refused Create changed the version: %q -> %q", rec.Version, got.Version)
			}
			equal(t, "value after a refused Create", got.Value, k.full)
		}},
		{"UpdateAtReadVersion", func(t *testing.T, tb store.Table[T], k kind[T]) {
			checkAllDiffer(t, k.full, k.changed)
			key := newKey(t, k.name)
			mustCreate(t, tb, key, k.full)
			read := mustGet(t, tb, key)
			next := read
			next.Value = k.changed
			upd := mustUpdate(t, tb, next)
			if upd.Key != key || upd.Version == "" || upd.Version == read.Version {
				t.Fatalf("Update returned key %q version %q; want %q at a version other than %q", upd.Key, upd.Version, key, read.Version)
			}
			equal(t, "Update's value", upd.Value, k.changed)
			got := mustGet(t, tb, key)
			if got.Version != upd.Version {
				t.Fatalf("Get after Update: version %q, Update returned %q", got.Version, upd.Version)
			}
			equal(t, "Get's value after Update", got.Value, k.changed)
			// What was read before is not changed by the later Update.
			equal(t, "a record read before the Update", read.Value, k.full)
			// And the new version can be updated again.
			got.Value = k.full
			equal(t, "second Update's value", mustUpdate(t, tb, got).Value, k.full)
		}},
		{"UpdateUnchangedValueIsAWrite", func(t *testing.T, tb store.Table[T], k kind[T]) {
			// Writing back the value read still moves the version (a backend
			// must not skip a write that changes nothing), so two callers
			// doing so at one version cannot both win.
			key := newKey(t, k.name)
			rec := mustCreate(t, tb, key, k.full)
			upd := mustUpdate(t, tb, rec)
			if upd.Version == rec.Version {
				t.Fatalf("Update of an unchanged value kept version %q", rec.Version)
			}
			if _, err := tb.Update(t.Context(), rec); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("second unchanged Update at the old version: %v, want ErrConflict", err)
			}
		}},
		{"UpdateStaleConflicts", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			stale := mustCreate(t, tb, key, k.full)
			cur := mustUpdate(t, tb, store.Record[T]{Key: key, Version: stale.Version, Value: k.changed})
			stale.Value = k.sparse
			if _, err := tb.Update(t.Context(), stale); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("Update at a stale version: %v, want ErrConflict", err)
			}
			got := mustGet(t, tb, key)
			if got.Version != cur.Version {
				t.Fatalf("a refused Update changed the version: %q -> %q", cur.Version, got.Version)
			}
			equal(t, "value after a refused Update", got.Value, k.changed)
		}},
		{"UpdateDeletedNotFound", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			rec := mustCreate(t, tb, key, k.full)
			mustDelete(t, tb, key, "")
			rec.Value = k.changed
			if _, err := tb.Update(t.Context(), rec); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Update of a deleted record: %v, want ErrNotFound", err)
			}
			if _, err := tb.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a refused Update recreated the record: %v", err)
			}
		}},
		{"DeleteStaleConflicts", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			stale := mustCreate(t, tb, key, k.full)
			cur := mustUpdate(t, tb, store.Record[T]{Key: key, Version: stale.Version, Value: k.changed})
			if err := tb.Delete(t.Context(), key, stale.Version); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("Delete at a stale version: %v, want ErrConflict", err)
			}
			got := mustGet(t, tb, key)
			if got.Version != cur.Version {
				t.Fatalf("a refused Delete changed the version: %q -> %q", cur.Version, got.Version)
			}
			equal(t, "value after a refused Delete", got.Value, k.changed)
		}},
		{"DeleteAtCurrentVersion", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			rec := mustCreate(t, tb, key, k.full)
			rec = mustUpdate(t, tb, rec)
			mustDelete(t, tb, key, rec.Version)
			if _, err := tb.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
			}
			// The key is free again.
			equal(t, "value created again", mustCreate(t, tb, key, k.changed).Value, k.changed)
		}},
		{"DeleteUnconditional", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			rec := mustCreate(t, tb, key, k.full)
			mustUpdate(t, tb, rec)
			mustDelete(t, tb, key, "")
			if _, err := tb.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
			}
		}},
		{"DeleteMissing", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			mustDelete(t, tb, key, "")
			rec := mustCreate(t, tb, key, k.full)
			mustDelete(t, tb, key, rec.Version)
			// Deleted already, at the version read or at none.
			mustDelete(t, tb, key, rec.Version)
			mustDelete(t, tb, key, "")
		}},
		{"UpdateRaceHasOneWinner", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			mustCreate(t, tb, key, k.full)
			var read, start sync.WaitGroup
			read.Add(Racers)
			start.Add(1)
			errs := make([]error, Racers)
			wins := make([]store.Record[T], Racers)
			var all sync.WaitGroup
			for i := range Racers {
				all.Go(func() {
					rec, err := tb.Get(t.Context(), key)
					read.Done()
					if err != nil {
						errs[i] = fmt.Errorf("Get: %w", err)
						return
					}
					// Every racer has read the same version before any writes.
					start.Wait()
					// Half write the value back unchanged, half change it.
					if i%2 == 1 {
						rec.Value = k.changed
					}
					wins[i], errs[i] = tb.Update(t.Context(), rec)
				})
			}
			read.Wait()
			start.Done()
			all.Wait()
			winner := oneWinner(t, "Update", errs)
			got := mustGet(t, tb, key)
			if winner >= 0 && got.Version != wins[winner].Version {
				t.Fatalf("the winner's version %q is not the stored one %q", wins[winner].Version, got.Version)
			}
		}},
		{"CreateRaceHasOneWinner", func(t *testing.T, tb store.Table[T], k kind[T]) {
			key := newKey(t, k.name)
			var start, all sync.WaitGroup
			start.Add(1)
			errs := make([]error, Racers)
			wins := make([]store.Record[T], Racers)
			for i := range Racers {
				all.Go(func() {
					v := k.full
					if i%2 == 1 {
						v = k.changed
					}
					start.Wait()
					wins[i], errs[i] = tb.Create(t.Context(), key, v)
				})
			}
			start.Done()
			all.Wait()
			winner := oneWinner(t, "Create", errs)
			got := mustGet(t, tb, key)
			if winner >= 0 {
				if got.Version != wins[winner].Version {
					t.Fatalf("the winner's version %q is not the stored one %q", wins[winner].Version, got.Version)
				}
				equal(t, "the stored value", got.Value, wins[winner].Value)
			}
		}},
	}
}

func runKind[T any](t *testing.T, open func(t *testing.T) store.Store, k kind[T]) {
	t.Helper()
	t.Run(string(k.name), func(t *testing.T) {
		for _, c := range conformance[T]() {
			t.Run(c.name, func(t *testing.T) {
				c.run(t, k.table(open(t)), k)
			})
		}
	})
}

func oneWinner(t *testing.T, op string, errs []error) int {
	t.Helper()
	winner, wins := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racer %d: %s: %v, want success or ErrConflict", i, op, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racers' %s succeeded, want exactly 1 (errors: %v)", wins, op, errs)
	}
	return winner
}

// newKey returns a valid key no other case (nor run) uses.
func newKey(t *testing.T, kind store.Kind) string {
	t.Helper()
	key := store.Key([]byte("storetest"), kind, t.Name()+"/"+rand.Text())
	if !store.ValidKey(key) {
		t.Fatalf("store.Key produced an invalid key %q", key)
	}
	return key
}

func mustGet[T any](t *testing.T, tb store.Table[T], key string) store.Record[T] {
	t.Helper()
	rec, err := tb.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return rec
}

func mustCreate[T any](t *testing.T, tb store.Table[T], key string, v T) store.Record[T] {
	t.Helper()
	rec, err := tb.Create(t.Context(), key, v)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return rec
}

func mustUpdate[T any](t *testing.T, tb store.Table[T], rec store.Record[T]) store.Record[T] {
	t.Helper()
	out, err := tb.Update(t.Context(), rec)
	if err != nil {
		t.Fatalf("Update at version %q: %v", rec.Version, err)
	}
	return out
}

func mustDelete[T any](t *testing.T, tb store.Table[T], key, version string) {
	t.Helper()
	if err := tb.Delete(t.Context(), key, version); err != nil {
		t.Fatalf("Delete at version %q: %v", version, err)
	}
}

// equal compares exactly: times must come back as the same instant, in
// UTC, without a monotonic reading.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s differs:\n got  %+v\n want %+v", what, got, want)
	}
}

// checkAllSet fails if a field of v is zero: the round-trip case would not
// notice a field a backend forgets (a field added to a store type but not to
// its CRD, say).
func checkAllSet(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Fatalf("storetest: sample %T leaves %s zero; set every field", v, rv.Type().Field(i).Name)
		}
	}
}

// checkAllDiffer fails if a field of a equals the same field of b: the
// update cases would not notice a field a backend does not write.
func checkAllDiffer(t *testing.T, a, b any) {
	t.Helper()
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range ra.NumField() {
		if reflect.DeepEqual(ra.Field(i).Interface(), rb.Field(i).Interface()) {
			t.Fatalf("storetest: samples of %T have the same %s; make them differ", a, ra.Type().Field(i).Name)
		}
	}
}
