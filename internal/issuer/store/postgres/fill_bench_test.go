package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres/pgtest"
)

// BenchmarkFill answers what a million active users cost the PostgreSQL
// store on this machine (a server with its durable defaults, on the same
// cores): it writes FILL sessions (default 1,000,000), each with its
// refresh family, through the store interface from 16 writers (no HTTP),
// and reports the tables' and indexes' size, the store's part of a
// refresh (read the family, read the session, rotate the family) at p50
// and p99 on an empty schema and at that size, and how fast collection
// deletes expired rows (a tenth of the sessions have ended, their families
// expired). Run it with -benchtime 1x; the fill takes minutes.
func BenchmarkFill(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("FILL")); err == nil && v > 0 {
		n = v
	}
	pgtest.Shared(b) // skips without PostgreSQL
	srv, err := pgtest.Start(filepath.Join(os.TempDir(), "idtenant-pg"), pgtest.Options{Durable: true})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	cfg := Config{URL: srv.URL, Schema: "idtenant_fill", MaxConns: 10}
	if _, err := Migrate(ctx, cfg, "uid", "acme"); err != nil {
		b.Fatal(err)
	}
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Second)
	stateKey := []byte("bench-state-key-0123456789abcdef")
	sessionKey := func(i int) string { return store.Key(stateKey, store.KindSession, strconv.Itoa(i)) }
	familyKey := func(i int) string { return store.Key(stateKey, store.KindFamily, strconv.Itoa(i)) }
	// Records shaped as the issuer writes them for a local user signed in
	// to one web application with an API audience.
	// Every record's times differ, as real users' do (equal keys would let
	// the indexes deduplicate them and look smaller than they are).
	apart := func(i int) time.Duration { return time.Duration(i) * 7 * time.Millisecond }
	session := func(i int, ended bool) store.Session {
		at := now.Add(-apart(i))
		if ended {
			at = now.Add(-8*24*time.Hour - apart(i))
		}
		return store.Session{SID: store.Key(stateKey, "sid", strconv.Itoa(i))[:32], Subject: fmt.Sprintf("user-%08d-0000-4000-8000-000000000000", i),
			AuthTime: at, LastActivity: at, UserFingerprint: store.Key(stateKey, "fp", strconv.Itoa(i)), Families: []string{familyKey(i)}}
	}
	family := func(i int, ended bool) store.RefreshFamily {
		f := store.RefreshFamily{ClientID: "backoffice.shop-prod", Subject: fmt.Sprintf("user-%08d-0000-4000-8000-000000000000", i),
			Scopes: []string{"openid", "email", "orders:read"}, Audience: "https://orders.acme.example", SessionKey: sessionKey(i),
			SID: store.Key(stateKey, "sid", strconv.Itoa(i))[:32], AuthTime: now, UserFingerprint: store.Key(stateKey, "fp", strconv.Itoa(i)),
			GrantedAt: now, LastUsed: now, Current: store.Key(stateKey, "rt", strconv.Itoa(i)), Grant: store.Key(stateKey, "grant", strconv.Itoa(i))[:22],
			ExpiresAt: now.Add(30*24*time.Hour - apart(i))}
		if ended {
			f.ExpiresAt = now.Add(-time.Hour - apart(i))
		}
		return f
	}
	limits := SessionLimits{Inactivity: 24 * time.Hour, Absolute: 7 * 24 * time.Hour}

	// The store's part of one refresh, one client, sequentially.
	refreshLatency := func(keys []int) (p50, p99 time.Duration) {
		var took []time.Duration
		for _, i := range keys {
			start := time.Now()
			fam, err := s.Families().Get(ctx, familyKey(i))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Sessions().Get(ctx, sessionKey(i)); err != nil {
				b.Fatal(err)
			}
			fam.Value.Previous, fam.Value.Current, fam.Value.RotatedAt = fam.Value.Current, store.Key(stateKey, "rt2", strconv.Itoa(i)), now
			if _, err := s.Families().Update(ctx, fam); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		return took[len(took)/2], took[len(took)*99/100]
	}
	const probes = 2000

	// Empty: the probes' own rows only.
	for i := range probes {
		if _, err := s.Sessions().Create(ctx, sessionKey(i), session(i, false)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Families().Create(ctx, familyKey(i), family(i, false)); err != nil {
			b.Fatal(err)
		}
	}
	emptyP50, emptyP99 := refreshLatency(seq(0, probes))

	// The fill: a generator pool without synchronous commit (its rate is
	// not what is measured), 16 writers.
	pc, err := PoolConfig(Config{URL: srv.URL, Schema: cfg.Schema, MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	genPool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	gen := newStore(genPool, 0)
	defer gen.Close()
	var next atomic.Int64
	next.Store(probes)
	var wg sync.WaitGroup
	fillStart := time.Now()
	b.ResetTimer()
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ended := i%10 == 0
				if _, err := gen.Sessions().Create(ctx, sessionKey(i), session(i, ended)); err != nil {
					b.Error(err)
					return
				}
				if _, err := gen.Families().Create(ctx, familyKey(i), family(i, ended)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	fillTook := time.Since(fillStart)
	if _, err := s.Pool().Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	var tableBytes, indexBytes int64
	if err := s.Pool().QueryRow(ctx, `SELECT sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)) FROM pg_class c
		JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relkind = 'r'`, cfg.Schema).Scan(&tableBytes, &indexBytes); err != nil {
		b.Fatal(err)
	}

	// At size: probes spread over the whole key space.
	var spread []int
	for j := range probes {
		i := (j*7919 + 13) % n
		if i%10 == 0 {
			i++ // a live one
		}
		spread = append(spread, i)
	}
	fullP50, fullP99 := refreshLatency(spread)

	// Collection of the ended tenth.
	collectStart := time.Now()
	tallies, err := s.Collect(ctx, now, limits, CollectLimits{Batch: 1000, Max: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	collectTook := time.Since(collectStart)
	collected := tallies[0].Collected + tallies[2].Collected
	b.StopTimer()

	b.ReportMetric(float64(n), "sessions")
	b.ReportMetric(float64(2*n)/fillTook.Seconds(), "fill-rows/s")
	b.ReportMetric(float64(tableBytes+indexBytes)/float64(n), "bytes/session")
	b.ReportMetric(float64(tableBytes)/(1<<20), "table-MiB")
	b.ReportMetric(float64(indexBytes)/(1<<20), "index-MiB")
	b.ReportMetric(float64(emptyP50.Microseconds()), "empty-p50-µs")
	b.ReportMetric(float64(emptyP99.Microseconds()), "empty-p99-µs")
	b.ReportMetric(float64(fullP50.Microseconds()), "full-p50-µs")
	b.ReportMetric(float64(fullP99.Microseconds()), "full-p99-µs")
	b.ReportMetric(float64(collected)/collectTook.Seconds(), "collected-rows/s")
	b.ReportMetric(float64(tallies[0].Live), "live-sessions")
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
