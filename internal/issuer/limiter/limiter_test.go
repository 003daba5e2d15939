package limiter

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterKeysByUserAndAddress(t *testing.T) {
	l := NewLoginLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range FreeFailures {
		v := l.Admit("alice", "10.0.0.66", "req1", t0)
		if v.Wait != 0 || v.Exhausted {
			t.Fatalf("free attempt refused: %+v", v)
		}
		v.Release()
		l.Fail("alice", "10.0.0.66", t0)
	}
	if v := l.Admit("alice", "10.0.0.66", "req2", t0); v.Wait != time.Second {
		t.Errorf("attacker's address after %d failures: wait %s, want 1s", FreeFailures, v.Wait)
	}
	v := l.Admit("alice", "192.0.2.7", "req3", t0)
	if v.Wait != 0 || v.Exhausted {
		t.Errorf("alice from her own address is slowed down by someone else's failures: %+v", v)
	}
	v.Release()
}

func TestLimiterSlowsASprayFromOneAddress(t *testing.T) {
	l := NewLoginLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range perAddress.free {
		l.Fail(fmt.Sprintf("user%d", i), "10.0.0.66", t0)
	}
	if v := l.Admit("someone-new", "10.0.0.66", "r", t0); v.Wait == 0 {
		t.Error("an address that failed for many usernames is not slowed down")
	}
	if v := l.Admit("someone-new", "10.0.0.67", "r", t0); v.Wait != 0 {
		t.Error("another address is slowed down")
	}
}

func TestLimiterBoundsAttemptsPerRequestAndConcurrency(t *testing.T) {
	l := NewLoginLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range MaxAttemptsPerRequest {
		// A different address each time: the bound is the request's own.
		v := l.Admit("alice", fmt.Sprintf("10.0.1.%d", i), "one-request", t0)
		if v.Exhausted || v.Wait != 0 {
			t.Fatalf("attempt %d refused: %+v", i, v)
		}
		v.Release()
	}
	if v := l.Admit("alice", "10.0.2.1", "one-request", t0); !v.Exhausted {
		t.Errorf("attempt %d with one sign-in request: %+v, want exhausted", MaxAttemptsPerRequest+1, v)
	}
	a, b := l.Admit("x", "10.0.3.1", "r1", t0), l.Admit("y", "10.0.3.1", "r2", t0)
	if c := l.Admit("z", "10.0.3.1", "r3", t0); c.Wait == 0 {
		t.Errorf("a third concurrent password check from one address was admitted")
	}
	a.Release()
	c := l.Admit("z", "10.0.3.1", "r3", t0)
	if c.Wait != 0 {
		t.Errorf("after one check finished: %+v", c)
	}
	b.Release()
	c.Release()
}

// A full table never resets live lockouts: a flood of new keys evicts
// idle and below-threshold records first, and only then the oldest tenth.
func TestLimiterFullTableKeepsLockouts(t *testing.T) {
	l := NewLoginLimiter()
	l.max = 1000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range FreeFailures + 3 {
		l.Fail("alice", "10.0.0.66", t0)
	}
	// 5000 one-failure keys from many addresses (a spray filling the table).
	for i := range 5000 {
		l.Fail(fmt.Sprintf("spray%d", i), fmt.Sprintf("10.9.%d.%d", i/250, i%250), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(l.entries) > l.max {
		t.Errorf("table holds %d entries, bound %d", len(l.entries), l.max)
	}
	if v := l.Admit("alice", "10.0.0.66", "r", t0.Add(5*time.Second)); v.Wait == 0 { // 8 failures: 8s
		t.Error("the lockout of the oldest record was lost when the table filled up")
	}
	// Even keys that are all locked out only lose the oldest tenth per
	// eviction, never everything at once.
	full := NewLoginLimiter()
	full.max = 1000
	for i := range 1000 {
		for range FreeFailures {
			full.Fail(fmt.Sprintf("u%d", i), "10.1.1.1", t0.Add(time.Duration(i)*time.Millisecond))
		}
	}
	full.Fail("one-more", "10.1.1.2", t0.Add(2*time.Second))
	if n := len(full.entries); n < 850 || n > 1000 {
		t.Errorf("after one eviction of locked keys: %d entries, want ~900", n)
	}
}

// TestPasswordChecksPerProcessAreBounded (security review N2): however
// many addresses take part, at most one password check per core runs at
// once; the next one waits for a slot instead of being refused, and a
// finished check lets it run.
func TestPasswordChecksPerProcessAreBounded(t *testing.T) {
	l := NewLoginLimiter()
	var running []func()
	for i := range cap(l.checks) {
		release, ok := l.WaitForCheck(t.Context(), 10*time.Millisecond)
		if !ok {
			t.Fatalf("check %d of %d had to wait", i+1, cap(l.checks))
		}
		running = append(running, release)
	}
	if _, ok := l.WaitForCheck(t.Context(), 50*time.Millisecond); ok {
		t.Fatalf("check %d ran while %d were running", cap(l.checks)+1, cap(l.checks))
	}
	got := make(chan bool)
	go func() {
		release, ok := l.WaitForCheck(t.Context(), 5*time.Second)
		if ok {
			release()
		}
		got <- ok
	}()
	running[0]()
	if !<-got {
		t.Fatal("a waiting check did not run once a slot freed")
	}
}

// TestBudget: max events per key per window, counted anew in the next
// window, and per key.
func TestBudget(t *testing.T) {
	b := NewBudget(3, time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !b.Allow("s1", t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("event %d of 3 refused", i+1)
		}
	}
	if b.Allow("s1", t0.Add(10*time.Second)) {
		t.Error("a 4th event within the minute was allowed")
	}
	if !b.Allow("s2", t0.Add(10*time.Second)) {
		t.Error("another key's first event was refused")
	}
	if !b.Allow("s1", t0.Add(time.Minute)) {
		t.Error("the next window's first event was refused")
	}
}
