package cockroach

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"m3o.dev/services/store"
)

// counter counts the statements and batches a pool sends, each one round
// trip, and the statements it prepares.
type counter struct{ sent, prepared atomic.Int64 }

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.sent.Add(1)
	return ctx
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.sent.Add(1)
	return ctx
}

func (c *counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (c *counter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	c.prepared.Add(1)
	return ctx
}

func (c *counter) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

// TestRoundTrips counts what each operation sends once its statements are
// prepared: one statement for every read and write, and one more only to
// read the version a failed compare-and-set reports.
func TestRoundTrips(t *testing.T) {
	dsn := testDSN(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("ParseConfig() = %v", err)
	}
	c := &counter{}
	cfg.ConnConfig.Tracer = c
	cfg.MaxConns = 1 // one connection, so that statements prepared once stay prepared
	b, err := open(t.Context(), cfg, Options{Table: testTable(t, dsn), Now: time.Now})
	if err != nil {
		t.Fatalf("open() = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := t.Context()
	tbl := store.Table{Database: "rt", Name: "t"}
	put := func(key string, size int, ifVersion *uint64, quota int64) error {
		rec := store.Record{Key: key, Value: make([]byte, size)}
		_, err := b.Put(ctx, tbl, rec, store.PutOptions{IfVersion: ifVersion, QuotaBytes: quota})
		return err
	}
	v := func(n uint64) *uint64 { return &n }
	must := func(err error) {
		if err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	// Each case runs twice: the first run prepares its statements, the
	// second is counted. i is different for every run, for keys of its own.
	tests := []struct {
		name  string
		setup func(i int) // not counted
		op    func(i int) error
		want  error
		sent  int64
	}{
		{name: "get", op: func(int) error { _, err := b.Get(ctx, tbl, "k"); return err }, sent: 1},
		{name: "get missing", op: func(int) error { _, err := b.Get(ctx, tbl, "none"); return err }, want: store.ErrNotFound, sent: 1},
		{name: "scan", op: func(int) error { _, err := b.Scan(ctx, tbl, store.Query{Prefix: "k", Limit: 10}); return err }, sent: 1},
		{name: "put new", op: func(i int) error { return put(key(i), 10, nil, 0) }, sent: 1},
		{name: "put existing", op: func(int) error { return put("k", 10, nil, 0) }, sent: 1},
		{name: "put growing within quota", op: func(i int) error { return put("k", 10+i, nil, 1<<20) }, sent: 1},
		{name: "put over quota", op: func(int) error { return put("big", 1000, nil, 100) }, want: store.ErrQuotaExceeded, sent: 1},
		{name: "create", op: func(i int) error { return put(key(i), 10, v(0), 0) }, sent: 1},
		{name: "create existing", op: func(int) error { return put("k", 10, v(0), 0) }, want: store.ErrConflict, sent: 2},
		{name: "swap", setup: func(i int) { must(put(key(i), 10, nil, 0)) }, op: func(i int) error { return put(key(i), 10, v(1), 0) }, sent: 1},
		{name: "swap stale", op: func(int) error { return put("k", 10, v(1), 0) }, want: store.ErrConflict, sent: 2},
		{name: "delete", setup: func(i int) { must(put(key(i), 10, nil, 0)) }, op: func(i int) error { return b.Delete(ctx, tbl, key(i), nil) }, sent: 1},
		{name: "delete missing", op: func(int) error { return b.Delete(ctx, tbl, "none", nil) }, want: store.ErrNotFound, sent: 1},
		{name: "delete version", setup: func(i int) { must(put(key(i), 10, nil, 0)) }, op: func(i int) error { return b.Delete(ctx, tbl, key(i), v(1)) }, sent: 1},
		{name: "delete stale", op: func(int) error { return b.Delete(ctx, tbl, "k", v(1)) }, want: store.ErrConflict, sent: 2},
		{name: "delete missing version", op: func(int) error { return b.Delete(ctx, tbl, "none", v(1)) }, want: store.ErrNotFound, sent: 2},
	}
	must(put("k", 10, nil, 0))
	must(put("k", 10, nil, 0)) // version 2, for the stale cases
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for run := range 2 {
				n := 2*i + run
				if tt.setup != nil {
					tt.setup(n)
				}
				before := c.sent.Load()
				err := tt.op(n)
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("%s = %v, want %v", tt.name, err, tt.want)
				}
				if got := c.sent.Load() - before; run == 1 && got != tt.sent {
					t.Errorf("%s sent %d statements, want %d", tt.name, got, tt.sent)
				}
			}
		})
	}
}

// key is the key of run i of a TestRoundTrips case.
func key(i int) string { return fmt.Sprint("new-", i) }

// usage returns the bytes the usage table counts for database and the bytes
// its records actually hold.
func usage(t *testing.T, b *Backend, database string) (counted, held int64) {
	t.Helper()
	ctx := t.Context()
	err := b.pool.QueryRow(ctx, "SELECT COALESCE(sum(bytes), 0)::INT8 FROM "+b.sql.usage+" WHERE namespace = $1", database).Scan(&counted)
	if err != nil {
		t.Fatalf("read usage: %v", err)
	}
	err = b.pool.QueryRow(ctx, "SELECT COALESCE(sum(size), 0)::INT8 FROM "+b.sql.records+" WHERE namespace = $1", database).Scan(&held)
	if err != nil {
		t.Fatalf("read sizes: %v", err)
	}
	return counted, held
}

// TestUsageExactUnderConcurrency races writers of every kind over a few
// keys of one database. PostgreSQL runs each statement at READ COMMITTED,
// where a statement's snapshot may be older than the row it ends up
// writing; the count must still equal the bytes held, and a quota must
// never be overshot.
func TestUsageExactUnderConcurrency(t *testing.T) {
	for _, quota := range []int64{0, 500} {
		t.Run(fmt.Sprintf("quota %d", quota), func(t *testing.T) {
			b := openTest(t, time.Now)
			tbl := store.Table{Database: "race", Name: "t"}
			const workers, ops, keys = 8, 60, 6
			var wg sync.WaitGroup
			errs := make(chan error, workers*ops)
			for w := range workers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for range ops {
						if err := raceOp(t.Context(), b, tbl, rng, keys, quota); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("racing write = %v, want nil, a conflict, not found or over quota", err)
			}
			counted, held := usage(t, b, tbl.Database)
			if counted != held {
				t.Errorf("usage counts %d bytes, records hold %d", counted, held)
			}
			if quota > 0 && held > quota {
				t.Errorf("records hold %d bytes, past the quota of %d", held, quota)
			}
			t.Logf("%d bytes held", held)
		})
	}
}

// raceOp does one random write of TestUsageExactUnderConcurrency and returns
// its error unless it is one that racing writers may rightly get.
func raceOp(ctx context.Context, b *Backend, tbl store.Table, rng *rand.Rand, keys int, quota int64) error {
	key := fmt.Sprint("k", rng.IntN(keys))
	rec := store.Record{Key: key, Value: []byte(strings.Repeat("v", 1+rng.IntN(400)))}
	if rng.IntN(3) == 0 {
		rec.Metadata = map[string]string{"m": strings.Repeat("x", rng.IntN(50))}
	}
	var err error
	switch rng.IntN(5) {
	case 0:
		err = b.Delete(ctx, tbl, key, nil)
	case 1:
		var cur store.Record
		if cur, err = b.Get(ctx, tbl, key); err == nil {
			err = b.Delete(ctx, tbl, key, &cur.Version)
		}
	case 2:
		var cur store.Record
		if cur, err = b.Get(ctx, tbl, key); errors.Is(err, store.ErrNotFound) || err == nil {
			_, err = b.Put(ctx, tbl, rec, store.PutOptions{IfVersion: &cur.Version, QuotaBytes: quota})
		}
	default:
		_, err = b.Put(ctx, tbl, rec, store.PutOptions{QuotaBytes: quota})
	}
	for _, ok := range []error{store.ErrConflict, store.ErrNotFound, store.ErrQuotaExceeded} {
		if errors.Is(err, ok) {
			return nil
		}
	}
	return err
}

// TestAddsPrevSize opens tables made before the prev_size column existed:
// Open adds it, and the records already there are rewritten and counted
// right.
func TestAddsPrevSize(t *testing.T) {
	dsn := testDSN(t)
	prefix := testTable(t, dsn)
	ctx := t.Context()
	old, err := Open(ctx, dsn, Options{Table: prefix})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	tbl := store.Table{Database: "old", Name: "t"}
	if _, err := old.Put(ctx, tbl, store.Record{Key: "k", Value: make([]byte, 99)}, store.PutOptions{}); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	if _, err := old.pool.Exec(ctx, "ALTER TABLE "+old.sql.records+" DROP COLUMN prev_size"); err != nil {
		t.Fatalf("drop prev_size: %v", err)
	}
	old.Close()

	b, err := Open(ctx, dsn, Options{Table: prefix})
	if err != nil {
		t.Fatalf("Open() of tables without prev_size = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	v, err := b.Put(ctx, tbl, store.Record{Key: "k", Value: make([]byte, 9)}, store.PutOptions{QuotaBytes: 50})
	if err != nil || v != 2 {
		t.Fatalf("Put(k) shrinking from 100 to 10 bytes = %d, %v, want 2, nil", v, err)
	}
	if counted, held := usage(t, b, tbl.Database); counted != 10 || held != 10 {
		t.Errorf("usage = %d counted, %d held, want 10 and 10", counted, held)
	}
	// A second Open finds the column and leaves the table alone.
	again, err := Open(ctx, dsn, Options{Table: prefix})
	if err != nil {
		t.Fatalf("Open() again = %v", err)
	}
	again.Close()
}
