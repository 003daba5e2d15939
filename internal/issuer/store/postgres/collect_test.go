package postgres

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// TestCollect: ended sessions (idle, or past the absolute timeout) and
// expired records of every other kind are deleted, at most Max per pass;
// live ones stay and are counted as status counts them (live sessions,
// live unrevoked families); what is left over awaits the next pass, the
// oldest one's deadline reported.
func TestCollect(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	limits := SessionLimits{Inactivity: time.Hour, Absolute: 12 * time.Hour}
	n := 0
	key := func(k store.Kind) string { n++; return store.Key([]byte("k"), k, fmt.Sprint(n)) }
	session := func(login, active time.Duration) string {
		k := key(store.KindSession)
		if _, err := s.Sessions().Create(ctx, k, store.Session{SID: "s", Subject: "u", AuthTime: now.Add(-login), LastActivity: now.Add(-active), UserFingerprint: "f"}); err != nil {
			t.Fatal(err)
		}
		return k
	}
	live := session(2*time.Hour, time.Minute)
	idle := session(2*time.Hour, time.Hour)                    // idle deadline exactly now: over
	absolute := session(12*time.Hour+time.Second, time.Minute) // past the absolute timeout though active
	family := func(expires time.Duration, revoked bool) string {
		k := key(store.KindFamily)
		f := store.RefreshFamily{ClientID: "c", Subject: "u", AuthTime: now, GrantedAt: now, LastUsed: now, Current: "d", ExpiresAt: now.Add(expires)}
		if revoked {
			f.RevokedAt = now
		}
		if _, err := s.Families().Create(ctx, k, f); err != nil {
			t.Fatal(err)
		}
		return k
	}
	liveFamily := family(time.Hour, false)
	revokedFamily := family(time.Hour, true)
	expiredFamily := family(-time.Minute, false)
	var codes []string
	for i := range 5 {
		k := key(store.KindCode)
		codes = append(codes, k)
		if _, err := s.Codes().Create(ctx, k, store.Code{ClientID: "c", SessionKey: live, SID: "s", Subject: "u", AuthTime: now, ExpiresAt: now.Add(-time.Duration(i+1) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}

	// A pass allowed 4 deletes, kinds in the order of store.Kinds:
	// sessions (2), then the two oldest codes; three codes and the
	// expired family are left.
	got, err := s.Collect(ctx, now, limits, CollectLimits{Batch: 2, Max: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.Kind]KindTally{
		store.KindSession: {Live: 1, Counted: 1, Collected: 2},
		store.KindCode:    {Collected: 2, Awaiting: 3, OldestExpired: now.Add(-3 * time.Minute)},
		store.KindFamily:  {Live: 2, Counted: 1, Awaiting: 1, OldestExpired: now.Add(-time.Minute)},
	}
	for i, kind := range store.Kinds {
		if got[i] != want[kind] {
			t.Errorf("%s: %+v, want %+v", kind, got[i], want[kind])
		}
	}
	for _, k := range []string{idle, absolute} {
		if _, err := s.Sessions().Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an ended session is still there: %v", err)
		}
	}
	if _, err := s.Sessions().Get(ctx, live); err != nil {
		t.Errorf("the live session was collected: %v", err)
	}
	for _, k := range []string{liveFamily, revokedFamily} {
		if _, err := s.Families().Get(ctx, k); err != nil {
			t.Errorf("a family that has not expired was collected: %v", err)
		}
	}
	for _, k := range codes[3:] {
		if _, err := s.Codes().Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the oldest codes were not the ones collected: %v", err)
		}
	}

	// The next pass takes the rest.
	got, err = s.Collect(ctx, now, limits, CollectLimits{Batch: 1000, Max: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if c := got[1]; c.Collected != 3 || c.Awaiting != 0 || !c.OldestExpired.IsZero() {
		t.Errorf("codes on the second pass: %+v, want 3 collected and none left", c)
	}
	if f := got[2]; f.Collected != 1 || f.Awaiting != 0 || f.Live != 2 {
		t.Errorf("families on the second pass: %+v, want the expired one collected", f)
	}
	if _, err := s.Families().Get(ctx, expiredFamily); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the expired family is still there: %v", err)
	}
}

// TestCollectKeepsASessionTouchedMeanwhile: an issuer touches a session
// while collection is deleting it (the touch holds the row when the
// DELETE reaches it, and commits after): the DELETE waits, re-checks the
// row as committed, and keeps the session, now active.
func TestCollectKeepsASessionTouchedMeanwhile(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	k := store.Key([]byte("k"), store.KindSession, "touched")
	if _, err := s.Sessions().Create(ctx, k, store.Session{SID: "s", Subject: "u", AuthTime: now.Add(-2 * time.Hour), LastActivity: now.Add(-2 * time.Hour), UserFingerprint: "f"}); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "UPDATE sessions SET last_activity = $2, version = version + 1 WHERE key = $1", k, now); err != nil {
		t.Fatal(err)
	}
	type result struct {
		tallies [len(store.Kinds)]KindTally
		err     error
	}
	done := make(chan result, 1)
	go func() {
		tallies, err := s.Collect(ctx, now, SessionLimits{Inactivity: time.Hour, Absolute: 12 * time.Hour}, CollectLimits{Batch: 10, Max: 10})
		done <- result{tallies, err}
	}()
	// The DELETE found the session ended in its snapshot and waits on the
	// row the touch holds.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM sessions%'").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the collection's DELETE never waited on the touched session")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := s.Sessions().Get(ctx, k); err != nil {
		t.Fatalf("the session touched during collection was deleted: %v", err)
	}
	if r.tallies[0].Collected != 0 || r.tallies[0].Live != 1 {
		t.Errorf("sessions: %+v, want the touched one live", r.tallies[0])
	}
}
