package issuer

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterKeysByUserAndAddress(t *testing.T) {
	l := newLoginLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range freeFailures {
		v := l.admit("alice", "10.0.0.66", "req1", t0)
		if v.wait != 0 || v.exhausted {
			t.Fatalf("free attempt refused: %+v", v)
		}
		v.release()
		l.fail("alice", "10.0.0.66", t0)
	}
	if v := l.admit("alice", "10.0.0.66", "req2", t0); v.wait != time.Second {
		t.Errorf("attacker's address after %d failures: wait %s, want 1s", freeFailures, v.wait)
	}
	v := l.admit("alice", "192.0.2.7", "req3", t0)
	if v.wait != 0 || v.exhausted {
		t.Errorf("alice from her own address is slowed down by someone else's failures: %+v", v)
	}
	v.release()
}

func TestLimiterSlowsASprayFromOneAddress(t *testing.T) {
	l := newLoginLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range perAddress.free {
		l.fail(fmt.Sprintf("user%d", i), "10.0.0.66", t0)
	}
	if v := l.admit("someone-new", "10.0.0.66", "r", t0); v.wait == 0 {
		t.Error("an address that failed for many usernames is not slowed down")
	}
	if v := l.admit("someone-new", "10.0.0.67", "r", t0); v.wait != 0 {
		t.Error("another address is slowed down")
	}
}

func TestLimiterBoundsAttemptsPerRequestAndConcurrency(t *testing.T) {
	l := newLoginLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxAttemptsPerRequest {
		// A different address each time: the bound is the request's own.
		v := l.admit("alice", fmt.Sprintf("10.0.1.%d", i), "one-request", t0)
		if v.exhausted || v.wait != 0 {
			t.Fatalf("attempt %d refused: %+v", i, v)
		}
		v.release()
	}
	if v := l.admit("alice", "10.0.2.1", "one-request", t0); !v.exhausted {
		t.Errorf("attempt %d with one sign-in request: %+v, want exhausted", maxAttemptsPerRequest+1, v)
	}
	a, b := l.admit("x", "10.0.3.1", "r1", t0), l.admit("y", "10.0.3.1", "r2", t0)
	if c := l.admit("z", "10.0.3.1", "r3", t0); c.wait == 0 {
		t.Errorf("a third concurrent password check from one address was admitted")
	}
	a.release()
	c := l.admit("z", "10.0.3.1", "r3", t0)
	if c.wait != 0 {
		t.Errorf("after one check finished: %+v", c)
	}
	b.release()
	c.release()
}

// A full table never resets live lockouts: a flood of new keys evicts
// idle and below-threshold records first, and only then the oldest tenth.
func TestLimiterFullTableKeepsLockouts(t *testing.T) {
	l := newLoginLimiter()
	l.max = 1000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range freeFailures + 3 {
		l.fail("alice", "10.0.0.66", t0)
	}
	// 5000 one-failure keys from many addresses (a spray filling the table).
	for i := range 5000 {
		l.fail(fmt.Sprintf("spray%d", i), fmt.Sprintf("10.9.%d.%d", i/250, i%250), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(l.entries) > l.max {
		t.Errorf("table holds %d entries, bound %d", len(l.entries), l.max)
	}
	if v := l.admit("alice", "10.0.0.66", "r", t0.Add(5*time.Second)); v.wait == 0 { // 8 failures: 8s
		t.Error("the lockout of the oldest record was lost when the table filled up")
	}
	// Even keys that are all locked out only lose the oldest tenth per
	// eviction, never everything at once.
	full := newLoginLimiter()
	full.max = 1000
	for i := range 1000 {
		for range freeFailures {
			full.fail(fmt.Sprintf("u%d", i), "10.1.1.1", t0.Add(time.Duration(i)*time.Millisecond))
		}
	}
	full.fail("one-more", "10.1.1.2", t0.Add(2*time.Second))
	if n := len(full.entries); n < 850 || n > 1000 {
		t.Errorf("after one eviction of locked keys: %d entries, want ~900", n)
	}
}
