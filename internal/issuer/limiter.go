package issuer

import (
	"sync"
	"time"
)

// loginLimiter slows down password guessing per username: after
// freeFailures consecutive failures, each further attempt must wait a delay
// that doubles with every failure, up to maxDelay. A success clears the
// record. It keys on the username typed, known or not, so it behaves the
// same for both and reveals nothing about who exists.
type loginLimiter struct {
	mu sync.Mutex
	m  map[string]failures
}

type failures struct {
	count int
	last  time.Time
}

const (
	freeFailures = 5
	firstDelay   = time.Second
	maxDelay     = 15 * time.Minute
	// maxTracked bounds memory under a spray of random usernames; old
	// records are dropped first.
	maxTracked = 100_000
)

func newLoginLimiter() *loginLimiter { return &loginLimiter{m: map[string]failures{}} }

// wait returns how long user must still wait before the next attempt.
func (l *loginLimiter) wait(user string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.m[user]
	if !ok || f.count < freeFailures {
		return 0
	}
	until := f.last.Add(delayAfter(f.count))
	if now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

func delayAfter(count int) time.Duration {
	shift := count - freeFailures
	if shift > 20 {
		return maxDelay
	}
	d := firstDelay << shift
	if d > maxDelay {
		return maxDelay
	}
	return d
}

func (l *loginLimiter) fail(user string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= maxTracked {
		for k, f := range l.m {
			if now.Sub(f.last) > maxDelay {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxTracked {
			clear(l.m)
		}
	}
	f := l.m[user]
	f.count++
	f.last = now
	l.m[user] = f
}

func (l *loginLimiter) succeed(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, user)
}
