package issuer

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	limiter "github.com/idtenant/idtenant/internal/issuer/limiter"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// browserFrom is a browser whose connections come from another loopback
// address (Linux routes all of 127/8 to lo), as a user elsewhere would.
func (e *env) browserFrom(addr string) *browser {
	b := e.browser()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
	b.client.Transport = &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, a)
	}}
	return b
}

// TestFailuresElsewhereDoNotLockTheUserOut: an attacker failing for alice
// from one address is slowed down; alice from her own address is not.
func TestFailuresElsewhereDoNotLockTheUserOut(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	attacker := e.browserFrom("127.0.0.66")
	for range limiter.FreeFailures + 2 {
		_, page := attacker.get(cfg.AuthCodeURL("s"))
		if r, _ := attacker.login(page, "alice", "guess"); r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("attacker attempt: %d", r.StatusCode)
		}
	}
	_, page := attacker.get(cfg.AuthCodeURL("s"))
	if r, _ := attacker.login(page, "alice", "correct horse"); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the attacker's address after %d failures: %d, want 429", limiter.FreeFailures+2, r.StatusCode)
	}
	alice := e.browserFrom("127.0.0.7")
	resp, body := alice.authorize(cfg.AuthCodeURL("s"), "alice", "correct horse")
	if cb := callback(t, resp, body); cb.Get("code") == "" {
		t.Errorf("alice from her own address: %v", cb)
	}
}

// TestOneSignInRequestGetsBoundedAttempts: a sealed sign-in request can be
// replayed, so it carries its own attempt budget.
func TestOneSignInRequestGetsBoundedAttempts(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	_, page := e.browser().get(cfg.AuthCodeURL("s"))
	for i := range limiter.MaxAttemptsPerRequest {
		// A fresh browser (cookie jar) and username each time: only the
		// request's budget applies.
		b := e.browser()
		_, p := b.get(loginURLOf(t, page, e))
		if r, _ := b.login(p, "nobody"+string(rune('a'+i)), "guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	b := e.browser()
	_, p := b.get(loginURLOf(t, page, e))
	r, body := b.login(p, "alice", "correct horse")
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "sign in again") {
		t.Errorf("attempt %d with one sign-in request: %d, want 429 asking to start over", limiter.MaxAttemptsPerRequest+1, r.StatusCode)
	}
}

// loginURLOf rebuilds the login page URL from a rendered page's sealed
// request.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loginURLOf(t *testing.T, page string, e *env) string {
	m := reID.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sealed request in page")
	}
	return e.issuer + pathLogin + "?r=" + m[1]
}

// TestUnknownUsersTakeAsLongAsKnownOnes: a wrong password for a real user
// and any password for an unknown user cost the same bcrypt work (the
// median ratio of adjacent pairs within 1.5x, in CPU time), also when the
// directory's hashes are not at bcrypt's default cost: the decoy follows
// the users' cost (11 here; a fixed decoy of cost 10 made unknown users
// twice as fast).
func TestUnknownUsersTakeAsLongAsKnownOnes(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), 11)
	e := newEnv(t, func(d *issuerconfig.Document) { d.Users[0].PasswordHash = string(hash) })
	if e.srv.cfg.Load().dummyCost != 11 {
		t.Fatalf("decoy cost %d, want the users' cost 11", e.srv.cfg.Load().dummyCost)
	}
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	// CPU time this process spends, not wall time: other processes on a
	// shared machine do not change how much bcrypt work a login costs.
	attempt := func(user string) time.Duration {
		b := e.browser()
		_, page := b.get(cfg.AuthCodeURL("s"))
		start := processCPU(t)
		r, _ := b.login(page, user, "wrong")
		d := processCPU(t) - start
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %d", user, r.StatusCode)
		}
		e.clock.Advance(time.Hour) // past any delay
		return d
	}
	// Adjacent pairs see the same host load; the median of their ratios
	// ignores the pairs a noisy neighbour disturbed.
	attempt("mallory-warmup") // the decoy hash of this cost is computed once
	var ratios []float64
	for i := range 7 {
		known, unknown := attempt("alice"), attempt("mallory"+string(rune('a'+i)))
		ratios = append(ratios, float64(unknown)/float64(known))
	}
	slices.Sort(ratios)
	median := ratios[len(ratios)/2]
	t.Logf("unknown/known time ratios %.2f (median %.2f)", ratios, median)
	if median > 1.5 || median < 1/1.5 {
		t.Errorf("unknown/known user time: median ratio %.2f outside 1/1.5..1.5 reveals who exists", median)
	}
}
