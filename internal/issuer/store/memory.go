package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MaxPending bounds the pending authorization requests a Memory holds;
// collection frees expired ones.
const MaxPending = 100_000

// Memory is an in-process Store. State is lost on restart and not shared
// between replicas; sessions then simply ask users to log in again.
type Memory struct {
	mu        sync.Mutex
	sessions  map[string]Session
	pending   map[string]Pending
	codes     map[string]Code
	refresh   map[string]Refresh
	families  map[string]time.Time // revoked family -> collectable after
	revokedAT map[string]time.Time // revoked jti -> its exp
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		sessions:  map[string]Session{},
		pending:   map[string]Pending{},
		codes:     map[string]Code{},
		refresh:   map[string]Refresh{},
		families:  map[string]time.Time{},
		revokedAT: map[string]time.Time{},
	}
}

var _ Store = (*Memory)(nil)

func (m *Memory) PutSession(_ context.Context, key string, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[key] = s
	return nil
}

func (m *Memory) GetSession(_ context.Context, key string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[key]
	if !ok {
		return Session{}, ErrNotFound
	}
	return s, nil
}

func (m *Memory) TouchSession(_ context.Context, key string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[key]
	if !ok {
		return ErrNotFound
	}
	if at.After(s.LastActivity) {
		s.LastActivity = at
		m.sessions[key] = s
	}
	return nil
}

func (m *Memory) DeleteSession(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, key)
	return nil
}

func (m *Memory) PutPending(_ context.Context, id string, p Pending) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) >= MaxPending {
		return ErrFull
	}
	m.pending[id] = p
	return nil
}

func (m *Memory) GetPending(_ context.Context, id string) (Pending, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[id]
	if !ok {
		return Pending{}, ErrNotFound
	}
	return p, nil
}

func (m *Memory) DeletePending(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, id)
	return nil
}

func (m *Memory) PutCode(_ context.Context, key string, c Code) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.codes[key] = c
	return nil
}

func (m *Memory) TakeCode(_ context.Context, key string, now time.Time) (Code, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.codes[key]
	if !ok {
		return Code{}, ErrNotFound
	}
	if !c.UsedAt.IsZero() {
		return c, ErrCodeReused
	}
	used := c
	used.UsedAt = now
	m.codes[key] = used
	return c, nil
}

func (m *Memory) RecordCodeTokens(_ context.Context, key, family, accessJTI string, accessExp time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.codes[key]
	if !ok {
		return ErrNotFound
	}
	c.Family, c.AccessJTI, c.AccessExp = family, accessJTI, accessExp
	m.codes[key] = c
	return nil
}

func (m *Memory) PutRefresh(_ context.Context, key string, r Refresh) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.Scopes = slices.Clone(r.Scopes)
	m.refresh[key] = r
	return nil
}

func (m *Memory) GetRefresh(_ context.Context, key string) (Refresh, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.refresh[key]
	if !ok {
		return Refresh{}, ErrNotFound
	}
	return r, nil
}

func (m *Memory) UseRefresh(_ context.Context, key string, now time.Time, rotate bool) (Refresh, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.refresh[key]
	if !ok {
		return Refresh{}, ErrNotFound
	}
	if r.RotatedAt.IsZero() {
		next := r
		if rotate {
			next.RotatedAt = now
		} else {
			next.LastUsed = now
		}
		m.refresh[key] = next
	}
	return r, nil
}

func (m *Memory) RevokeFamily(_ context.Context, family string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.families[family] = until
	for k, r := range m.refresh {
		if r.Family == family {
			delete(m.refresh, k)
		}
	}
	return nil
}

func (m *Memory) FamilyRevoked(_ context.Context, family string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.families[family]
	return ok, nil
}

func (m *Memory) Revoke(_ context.Context, jti string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokedAT[jti] = until
	return nil
}

func (m *Memory) Revoked(_ context.Context, jti string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.revokedAT[jti]
	return ok, nil
}

func (m *Memory) Collect(_ context.Context, now time.Time, ended func(Session) bool) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, s := range m.sessions {
		if ended(s) {
			delete(m.sessions, k)
			n++
		}
	}
	for k, p := range m.pending {
		if !now.Before(p.ExpiresAt) {
			delete(m.pending, k)
		}
	}
	for k, c := range m.codes {
		if !now.Before(c.ExpiresAt) {
			delete(m.codes, k)
		}
	}
	for k, r := range m.refresh {
		if !now.Before(r.ExpiresAt) {
			delete(m.refresh, k)
		}
	}
	for k, until := range m.families {
		if !now.Before(until) {
			delete(m.families, k)
		}
	}
	for k, until := range m.revokedAT {
		if !now.Before(until) {
			delete(m.revokedAT, k)
		}
	}
	return n, nil
}

// Len reports how many records of each kind are held, for tests and metrics.
func (m *Memory) Len() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return map[string]int{
		"sessions": len(m.sessions), "pending": len(m.pending), "codes": len(m.codes),
		"refresh": len(m.refresh), "families": len(m.families), "revoked": len(m.revokedAT),
	}
}
