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

// TestCollectKeepsASessionTouchedMeanwhile: a session whose last activity
// moved after the pass computed its cut-off is not deleted, because the
// DELETE re-checks the row.
func TestCollectKeepsASessionTouchedMeanwhile(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	k := store.Key([]byte("k"), store.KindSession, "touched")
	rec, err := s.Sessions().Create(ctx, k, store.Session{SID: "s", Subject: "u", AuthTime: now.Add(-2 * time.Hour), LastActivity: now.Add(-2 * time.Hour), UserFingerprint: "f"})
	if err != nil {
		t.Fatal(err)
	}
	// Touched by an issuer: active now.
	rec.Value.LastActivity = now
	if _, err := s.Sessions().Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Collect(ctx, now, SessionLimits{Inactivity: time.Hour, Absolute: 12 * time.Hour}, CollectLimits{Batch: 10, Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Collected != 0 || got[0].Live != 1 {
		t.Fatalf("sessions: %+v, want the touched one live", got[0])
	}
}
