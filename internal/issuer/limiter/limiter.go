// Package limiter bounds password guessing at the issuer's login page per
// user, client address and login request, without handing anyone a way to
// lock a user out (LoginLimiter). It holds its own bounded state in memory
// and knows nothing of HTTP or the issuer's configuration.
package limiter

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"
)

// loginLimiter bounds password guessing without handing anyone a way to
// lock a user out:
//
//   - per (username, client address): freeFailures failures, then each
//     attempt waits a delay that doubles up to 15 minutes. Failures from one
//     address never slow the same user down anywhere else.
//   - per client address, whatever the usernames: a spray of guesses over
//     many accounts from one address is slowed down after 50 failures (up
//     to 5 minutes), and it may run at most two password checks at once,
//     so one address cannot occupy every core with bcrypt.
//   - per process: at most one password check per core runs at once,
//     whatever the addresses (WaitForCheck); the others wait their turn, a
//     few seconds at most, instead of being refused, so addresses holding
//     every slot slow the others down but cannot make them fail.
//   - per sign-in request (a sealed authorization request): at most
//     maxAttemptsPerRequest password checks, then the user starts over
//     from the application.
//
// Usernames are keyed as typed, known or not, so the limiter behaves the
// same for both and reveals nothing about who exists. The table is bounded:
// when full it drops records whose delay is over, then those below any
// lockout threshold, then the oldest tenth — never everything at once.
type LoginLimiter struct {
	mu       sync.Mutex
	entries  map[string]failures
	inflight map[string]int
	// checks holds a token per password check running: its capacity is
	// the number that may run at once.
	checks chan struct{}
	max    int
}

type failures struct {
	count int
	last  time.Time
}

type limitPolicy struct {
	free       int
	first, max time.Duration
}

var (
	perUserAddress = limitPolicy{free: FreeFailures, first: time.Second, max: 15 * time.Minute}
	perAddress     = limitPolicy{free: 50, first: time.Second, max: 5 * time.Minute}
)

const (
	FreeFailures = 5
	// maxAttemptsPerRequest bounds the password checks one sign-in request
	// gets, successful or not.
	MaxAttemptsPerRequest = 10
	// maxInflightPerAddress bounds concurrent bcrypt work per address.
	maxInflightPerAddress = 2
	// maxTracked bounds memory under a spray of random usernames.
	maxTracked = 100_000
)

// NewLoginLimiter bounds concurrent password checks to one per core
// (GOMAXPROCS, at least two).
func NewLoginLimiter() *LoginLimiter {
	return &LoginLimiter{entries: map[string]failures{}, inflight: map[string]int{}, max: maxTracked,
		checks: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

func userKey(user, addr string) string { return "u\x00" + user + "\x00" + addr }
func addrKey(addr string) string       { return "a\x00" + addr }
func requestKey(req string) string     { return "r\x00" + req }

// verdict is what the limiter decided about one password attempt.
type verdict struct {
	// wait > 0: refuse, try again after it.
	Wait time.Duration
	// exhausted: this sign-in request has used its attempts.
	Exhausted bool
	// release must be called after the password check when admitted.
	Release func()
}

// admit decides whether a password attempt for user from addr, within the
// sign-in request req (a digest), may be checked now.
func (l *LoginLimiter) Admit(user, addr, req string, now time.Time) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries[requestKey(req)].count >= MaxAttemptsPerRequest {
		return verdict{Exhausted: true}
	}
	wait := max(l.delayLocked(userKey(user, addr), perUserAddress, now), l.delayLocked(addrKey(addr), perAddress, now))
	if wait > 0 {
		return verdict{Wait: wait}
	}
	if l.inflight[addr] >= maxInflightPerAddress {
		return verdict{Wait: time.Second}
	}
	l.inflight[addr]++
	l.bumpLocked(requestKey(req), now)
	return verdict{Release: func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.inflight[addr]--; l.inflight[addr] <= 0 {
			delete(l.inflight, addr)
		}
	}}
}

// AdmitRequest decides whether one more attempt of the sign-in request
// req (a digest) may run, counting it: at most MaxAttemptsPerRequest,
// whatever their outcome. For attempts that check no password (an
// upstream provider's callback), so nothing is counted per user or per
// address: a key shared by everyone behind one address would let any of
// them block the others.
func (l *LoginLimiter) AdmitRequest(req string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries[requestKey(req)].count >= MaxAttemptsPerRequest {
		return false
	}
	l.bumpLocked(requestKey(req), now)
	return true
}

// WaitForCheck waits, at most wait, for one of the process's password
// check slots, and returns the function that frees it; ok false when none
// freed in time (or ctx ended): the caller answers "busy, try again".
func (l *LoginLimiter) WaitForCheck(ctx context.Context, wait time.Duration) (release func(), ok bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case l.checks <- struct{}{}:
		return func() { <-l.checks }, true
	case <-timer.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}

func (l *LoginLimiter) delayLocked(key string, p limitPolicy, now time.Time) time.Duration {
	f, ok := l.entries[key]
	if !ok || f.count < p.free || forgotten(f, now) {
		return 0
	}
	if until := f.last.Add(p.delayAfter(f.count)); now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

func (p limitPolicy) delayAfter(count int) time.Duration {
	shift := count - p.free
	if shift > 20 {
		return p.max
	}
	return min(p.first<<shift, p.max)
}

// fail records a wrong password for user from addr.
func (l *LoginLimiter) Fail(user, addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bumpLocked(userKey(user, addr), now)
	l.bumpLocked(addrKey(addr), now)
}

// succeed clears user's failures from addr. The address's own count stays:
// an attacker holding one valid account must not reset it by logging in.
func (l *LoginLimiter) Succeed(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, userKey(user, addr))
}

// forgetAfter is how long a record lasts without a new failure: counts
// decay instead of adding up forever (a typo a month later must not meet
// the delay of last month's attack).
const forgetAfter = 30 * time.Minute // twice the longest delay

func forgotten(f failures, now time.Time) bool { return now.Sub(f.last) > forgetAfter }

func (l *LoginLimiter) bumpLocked(key string, now time.Time) {
	if _, ok := l.entries[key]; !ok && len(l.entries) >= l.max {
		l.evictLocked(now)
	}
	f := l.entries[key]
	if forgotten(f, now) {
		f = failures{}
	}
	f.count++
	f.last = now
	l.entries[key] = f
}

// evictLocked makes room: records idle for longer than any delay first,
// then records below any lockout threshold (a spray's one-failure keys),
// and only then the oldest tenth. Lockouts survive a flood of new keys.
func (l *LoginLimiter) evictLocked(now time.Time) {
	for _, drop := range []func(failures) bool{
		func(f failures) bool { return forgotten(f, now) },
		func(f failures) bool { return f.count < FreeFailures },
	} {
		for k, f := range l.entries {
			if drop(f) {
				delete(l.entries, k)
			}
		}
		if len(l.entries) < l.max {
			return
		}
	}
	oldest := make([]time.Time, 0, len(l.entries))
	for _, f := range l.entries {
		oldest = append(oldest, f.last)
	}
	slices.SortFunc(oldest, time.Time.Compare) // rare: only when full
	cut := oldest[len(oldest)/10]
	for k, f := range l.entries {
		if !f.last.After(cut) {
			delete(l.entries, k)
		}
	}
}
