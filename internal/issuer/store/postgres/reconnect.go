package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// A database restart or failover cuts every connection in the pool, but a
// pooled connection learns it only when it is next used: the first
// statement on each fails. So that one restart costs at most the requests
// in flight while the database is really down, not one failed request per
// idle connection afterwards, a statement that finds its connection cut
// empties the pool (every other idle connection is as dead) and, when it
// is safe, runs once more on a fresh connection:
//
//   - a read always (it changes nothing);
//   - a write only when pgconn says nothing was sent. A write that may have
//     reached the server is not retried: if it was applied, running it
//     again would report a conflict for the caller's own write. The caller
//     answers 503 instead, and the client's retry finds the outcome (a
//     refresh token's successor within reuseInterval).

func (s *Store) read(ctx context.Context, run func() error) error {
	err := run()
	if connectionLost(err) {
		s.pool.Reset()
		if ctx.Err() == nil {
			err = run()
		}
	}
	return err
}

func (s *Store) write(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if connectionLost(err) {
		s.pool.Reset()
		if pgconn.SafeToRetry(err) && ctx.Err() == nil {
			tag, err = s.pool.Exec(ctx, sql, args...)
		}
	}
	return tag, err
}

// connectionLost reports whether err says the connection (or the server)
// went away, rather than anything about the statement.
func connectionLost(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server shut
		// down, crashed, or is not accepting connections yet.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return false // slow, not gone: a statement timeout keeps the pool
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || netErr != nil || strings.Contains(err.Error(), "conn closed")
}
