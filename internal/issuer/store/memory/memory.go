// Package memory is the in-process issuer state backend: explicit, for
// tests and throwaway tenants. State is lost on restart and not shared
// between replicas, so admission allows it only with one replica.
package memory

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// Store holds every record kind in maps guarded by one lock per kind.
type Store struct {
	sessions    *table[store.Session]
	codes       *table[store.Code]
	families    *table[store.RefreshFamily]
	revocations *table[store.Revocation]
	consents    *table[store.Consent]
}

// New returns an empty store.
func New() *Store {
	return &Store{
		sessions:    newTable[store.Session](),
		codes:       newTable[store.Code](),
		families:    newTable[store.RefreshFamily](),
		revocations: newTable[store.Revocation](),
		consents:    newTable[store.Consent](),
	}
}

var _ store.Store = (*Store)(nil)

func (s *Store) Sessions() store.Table[store.Session]       { return s.sessions }
func (s *Store) Codes() store.Table[store.Code]             { return s.codes }
func (s *Store) Families() store.Table[store.RefreshFamily] { return s.families }
func (s *Store) Revocations() store.Table[store.Revocation] { return s.revocations }
func (s *Store) Consents() store.Table[store.Consent]       { return s.consents }

// Collect deletes codes, families, revocations and consents past their expiry, and
// sessions for which ended reports true (their deadlines depend on the
// configuration, which the store does not know). It returns how many
// records of each kind it deleted.
func (s *Store) Collect(now time.Time, ended func(store.Session) bool) map[store.Kind]int {
	return map[store.Kind]int{
		store.KindSession:    s.sessions.deleteIf(ended),
		store.KindCode:       s.codes.deleteIf(func(c store.Code) bool { return !now.Before(c.Expiry()) }),
		store.KindFamily:     s.families.deleteIf(func(f store.RefreshFamily) bool { return !now.Before(f.Expiry()) }),
		store.KindRevocation: s.revocations.deleteIf(func(r store.Revocation) bool { return !now.Before(r.Expiry()) }),
		store.KindConsent:    s.consents.deleteIf(func(c store.Consent) bool { return !now.Before(c.Expiry()) }),
	}
}

// Len reports how many records of each kind are held.
func (s *Store) Len() map[store.Kind]int {
	return map[store.Kind]int{
		store.KindSession: s.sessions.len(), store.KindCode: s.codes.len(),
		store.KindFamily: s.families.len(), store.KindRevocation: s.revocations.len(),
		store.KindConsent: s.consents.len(),
	}
}

type entry[T any] struct {
	version uint64
	value   T
}

type table[T any] struct {
	mu      sync.Mutex
	next    uint64
	records map[string]entry[T]
}

func newTable[T any]() *table[T] { return &table[T]{records: map[string]entry[T]{}} }

func (t *table[T]) Get(_ context.Context, key string) (store.Record[T], error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.records[key]
	if !ok {
		return store.Record[T]{}, store.ErrNotFound
	}
	return store.Record[T]{Key: key, Version: strconv.FormatUint(e.version, 10), Value: e.value}, nil
}

func (t *table[T]) Create(_ context.Context, key string, value T) (store.Record[T], error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.records[key]; ok {
		return store.Record[T]{}, store.ErrConflict
	}
	return t.put(key, value), nil
}

func (t *table[T]) Update(_ context.Context, rec store.Record[T]) (store.Record[T], error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.records[rec.Key]
	if !ok {
		return store.Record[T]{}, store.ErrNotFound
	}
	if strconv.FormatUint(e.version, 10) != rec.Version {
		return store.Record[T]{}, store.ErrConflict
	}
	return t.put(rec.Key, rec.Value), nil
}

func (t *table[T]) Delete(_ context.Context, key, version string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.records[key]
	if !ok {
		return nil
	}
	if version != "" && strconv.FormatUint(e.version, 10) != version {
		return store.ErrConflict
	}
	delete(t.records, key)
	return nil
}

// put stores value under a fresh version. Values are stored as given:
// callers never mutate a record's slices after handing it over (the
// protocol builds new values), and conformance tests check that a Get
// never observes a later Update's change.
func (t *table[T]) put(key string, value T) store.Record[T] {
	t.next++
	t.records[key] = entry[T]{version: t.next, value: value}
	return store.Record[T]{Key: key, Version: strconv.FormatUint(t.next, 10), Value: value}
}

func (t *table[T]) deleteIf(match func(T) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, e := range t.records {
		if match(e.value) {
			delete(t.records, k)
			n++
		}
	}
	return n
}

func (t *table[T]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.records)
}
