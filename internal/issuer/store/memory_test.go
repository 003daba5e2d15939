package store

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestCodesAreSingleUse(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	if err := m.PutCode(ctx, "k", Code{ClientID: "a.b"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if c, err := m.TakeCode(ctx, "k", now); err != nil || c.ClientID != "a.b" {
		t.Fatalf("first take: %+v, %v", c, err)
	}
	if err := m.RecordCodeTokens(ctx, "k", "fam", "jti", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c, err := m.TakeCode(ctx, "k", now.Add(time.Second))
	if !errors.Is(err, ErrCodeReused) || c.Family != "fam" || c.AccessJTI != "jti" {
		t.Fatalf("second take: %+v, %v; want ErrCodeReused naming what the first issued", c, err)
	}
	if _, err := m.TakeCode(ctx, "unknown", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
}

func TestUseRefreshReportsEarlierRotation(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = m.PutRefresh(ctx, "r", Refresh{Family: "f", LastUsed: t0, ExpiresAt: t0.Add(time.Hour)})
	first, err := m.UseRefresh(ctx, "r", t0.Add(time.Minute), true)
	if err != nil || !first.RotatedAt.IsZero() {
		t.Fatalf("first use: %+v, %v", first, err)
	}
	second, err := m.UseRefresh(ctx, "r", t0.Add(2*time.Minute), true)
	if err != nil || !second.RotatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("second use must see the first rotation: %+v, %v", second, err)
	}
	_ = m.RevokeFamily(ctx, "f", t0.Add(time.Hour))
	if _, err := m.GetRefresh(ctx, "r"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked family token still stored: %v", err)
	}
	if ok, _ := m.FamilyRevoked(ctx, "f"); !ok {
		t.Error("family not marked revoked")
	}
}

func TestCollectRemovesExpiredRecords(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = m.PutCode(ctx, "old", Code{ExpiresAt: t0})
	_ = m.PutCode(ctx, "new", Code{ExpiresAt: t0.Add(time.Minute)})
	_ = m.PutPending(ctx, "p", Pending{ExpiresAt: t0})
	_ = m.PutRefresh(ctx, "r", Refresh{ExpiresAt: t0})
	_ = m.Revoke(ctx, "jti", t0)
	_ = m.PutSession(ctx, "s1", Session{Subject: "ended"})
	_ = m.PutSession(ctx, "s2", Session{Subject: "alive"})
	n, err := m.Collect(ctx, t0, func(s Session) bool { return s.Subject == "ended" })
	if err != nil || n != 1 {
		t.Fatalf("Collect = %d, %v", n, err)
	}
	got := m.Len()
	want := map[string]int{"sessions": 1, "pending": 0, "codes": 1, "refresh": 0, "families": 0, "revoked": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d records left, want %d", k, got[k], v)
		}
	}
}

func TestPendingIsBounded(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < MaxPending; i++ {
		if err := m.PutPending(ctx, strconv.Itoa(i), Pending{ExpiresAt: t0}); err != nil {
			t.Fatalf("record %d refused: %v", i, err)
		}
	}
	if err := m.PutPending(ctx, "one-more", Pending{ExpiresAt: t0}); !errors.Is(err, ErrFull) {
		t.Fatalf("past the bound: %v, want ErrFull", err)
	}
	if _, err := m.Collect(ctx, t0, func(Session) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if err := m.PutPending(ctx, "after-collect", Pending{ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatalf("after collection: %v", err)
	}
}
