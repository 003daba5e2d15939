package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// Collection of this backend's expired rows, for whoever collects them
// (the operator's internal/statecollector, one leader). As the Kubernetes
// backend's expiry.go, the rules are the store's own: a session has ended
// once its idle or absolute deadline under the Tenant's settings in force
// has passed (lifetime.Session.DeadlinesOf), every other kind at its
// expiry. Deadlines are exclusive: at exactly the deadline a record no
// longer works.

// SessionLimits are the Tenant's session timeouts in force now.
type SessionLimits struct {
	Inactivity, Absolute time.Duration
}

// KindTally is what one collection found of one kind.
type KindTally struct {
	// Live records still work; Counted are the live sessions and live,
	// unrevoked refresh families (what Tenant status counts).
	Live, Counted int64
	// Awaiting are expired records left for the next pass, Collected those
	// deleted; OldestExpired is when the oldest left one stopped working.
	Awaiting, Collected int64
	OldestExpired       time.Time
}

// CollectLimits bound one collection.
type CollectLimits struct {
	// Batch is the most rows one DELETE removes; Max the most one
	// collection removes over all kinds (the rest await the next).
	Batch, Max int
}

// Collect counts the records of every kind (in the order of store.Kinds)
// and deletes expired ones, Batch rows per statement by index range, at
// most Max in all. Each DELETE re-checks expiry on the row it deletes, so
// a session touched meanwhile is kept.
func (s *Store) Collect(ctx context.Context, now time.Time, session SessionLimits, limits CollectLimits) ([len(store.Kinds)]KindTally, error) {
	var out [len(store.Kinds)]KindTally
	budget := limits.Max
	for i, kind := range store.Kinds {
		r := rulesOf(kind, now, session)
		// Delete first, then count what is left: the counts are then
		// what status should say after this pass.
		for budget > 0 {
			n := min(limits.Batch, budget)
			deleted, err := s.exec(ctx, r.delete, append(r.deleteArgs, n)...)
			if err != nil {
				return out, fmt.Errorf("deleting expired %s: %w", r.table, err)
			}
			out[i].Collected += deleted
			budget -= int(deleted)
			if int(deleted) < n {
				break
			}
		}
		var oldest *time.Time
		if err := s.queryRow(ctx, r.count, r.countArgs...).Scan(&out[i].Live, &out[i].Counted, &out[i].Awaiting, &oldest); err != nil {
			return out, fmt.Errorf("counting %s: %w", r.table, err)
		}
		if oldest != nil {
			out[i].OldestExpired = oldest.UTC()
		}
	}
	return out, nil
}

func (s *Store) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 6*s.timeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (s *Store) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	// The row is scanned before the caller returns; the context's end
	// afterwards does not matter to it, but a cancel func must not leak.
	ctx, cancel := context.WithTimeout(ctx, 6*s.timeout)
	return cancelRow{Row: s.pool.QueryRow(ctx, sql, args...), cancel: cancel}
}

type cancelRow struct {
	pgx.Row
	cancel context.CancelFunc
}

func (r cancelRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.Row.Scan(dest...)
}

// collectRules are one kind's collection statements. The expired
// condition is written twice in each DELETE: in the subquery, where it
// picks a batch by index range, and on the row deleted, where PostgreSQL
// re-evaluates it should the row have changed since the subquery read it.
type collectRules struct {
	table string
	// delete takes deleteArgs and then the batch size.
	delete     string
	deleteArgs []any
	count      string
	countArgs  []any
}

func rulesOf(kind store.Kind, now time.Time, session SessionLimits) collectRules {
	if kind == store.KindSession {
		// Ended: idle since $1 or logged in since $2; it stopped working
		// at the earlier of its two deadlines.
		const ended = "(last_activity <= $1 OR auth_time <= $2)"
		idleBefore, loginBefore := now.Add(-session.Inactivity), now.Add(-session.Absolute)
		return collectRules{table: "sessions",
			delete: "DELETE FROM sessions WHERE key IN (" +
				"SELECT key FROM sessions WHERE last_activity <= $1 UNION ALL SELECT key FROM sessions WHERE auth_time <= $2 LIMIT $3" +
				") AND " + ended,
			deleteArgs: []any{idleBefore, loginBefore},
			count: "SELECT count(*) FILTER (WHERE NOT " + ended + "), count(*) FILTER (WHERE NOT " + ended + "), " +
				"count(*) FILTER (WHERE " + ended + "), " +
				"min(LEAST(last_activity + $3::float8 * interval '1 second', auth_time + $4::float8 * interval '1 second')) FILTER (WHERE " + ended + ") FROM sessions",
			countArgs: []any{idleBefore, loginBefore, session.Inactivity.Seconds(), session.Absolute.Seconds()},
		}
	}
	table := map[store.Kind]string{store.KindCode: "authorization_codes", store.KindFamily: "refresh_families",
		store.KindRevocation: "revoked_tokens", store.KindConsent: "consents"}[kind]
	counted := "false"
	if kind == store.KindFamily {
		counted = "NOT revoked" // a revoked family is kept until it expires, not live
	}
	return collectRules{table: table,
		delete: "DELETE FROM " + table + " WHERE key IN (SELECT key FROM " + table + " WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)" +
			" AND expires_at <= $1",
		deleteArgs: []any{now},
		count: "SELECT count(*) FILTER (WHERE expires_at > $1), count(*) FILTER (WHERE expires_at > $1 AND " + counted + "), " +
			"count(*) FILTER (WHERE expires_at <= $1), min(expires_at) FILTER (WHERE expires_at <= $1) FROM " + table,
		countArgs: []any{now},
	}
}
