package cockroach

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"m3o.dev/services/store"
	"m3o.dev/services/store/storetest"
)

// testDSN returns the PostgreSQL server the tests run against. Without one
// the test fails, unless -short asked to leave such tests out.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("MICRO_TEST_POSTGRES_DSN")
	if dsn == "" {
		if testing.Short() {
			t.Skip("-short: skipping a test that needs PostgreSQL")
		}
		t.Fatal("MICRO_TEST_POSTGRES_DSN is not set; run the tests through scripts/with-postgres.sh")
	}
	return dsn
}

// testTable returns a table prefix of the test's own and drops its tables
// when the test ends.
func testTable(t testing.TB, dsn string) string {
	t.Helper()
	prefix := "t_" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop test tables: %v", err)
			return
		}
		defer conn.Close(ctx)
		st := newStatements(prefix)
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+st.records+", "+st.usage); err != nil {
			t.Errorf("drop test tables: %v", err)
		}
	})
	return prefix
}

// openTest opens a backend on tables of the test's own.
func openTest(t testing.TB, now func() time.Time) *Backend {
	t.Helper()
	dsn := testDSN(t)
	b, err := Open(t.Context(), dsn, Options{Table: testTable(t, dsn), Now: now})
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Backend {
		return openTest(t, now)
	})
}

func TestOpenConcurrently(t *testing.T) {
	dsn := testDSN(t)
	prefix := testTable(t, dsn)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			b, err := Open(t.Context(), dsn, Options{Table: prefix})
			if err == nil {
				b.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open() #%d racing 7 others = %v, want nil", i, err)
		}
	}
}

func TestOpenRejectsBadTable(t *testing.T) {
	for _, table := range []string{"Store", "a-b", "x; DROP TABLE y", strings.Repeat("a", 42)} {
		if b, err := Open(t.Context(), "postgres://127.0.0.1:1/none", Options{Table: table}); err == nil {
			b.Close()
			t.Errorf("Open(table %q) error = nil, want an error", table)
		}
	}
}

// TestPrefixScanPlan shows that a prefix read is a range scan of the primary
// key, not a filter over the table.
func TestPrefixScanPlan(t *testing.T) {
	b := openTest(t, nil)
	ctx := t.Context()
	// Enough rows, spread over tenants and tables, that a scan of the whole
	// table would cost the planner far more than the range.
	fill := fmt.Sprintf(`INSERT INTO %s (namespace, tbl, key, rkey, value, version, size)
		SELECT 'ns' || (i %% 50)::TEXT, 't' || (i %% 7)::TEXT, convert_to('key/' || i::TEXT, 'UTF8'), '\x00', '\x00', 1, 10
		FROM generate_series(1, 20000) AS i`, b.sql.records)
	if _, err := b.pool.Exec(ctx, fill); err != nil {
		t.Fatalf("fill: %v", err)
	}
	if _, err := b.pool.Exec(ctx, "ANALYZE "+b.sql.records); err != nil {
		t.Fatalf("analyze: %v", err)
	}
	for _, desc := range []bool{false, true} {
		q := store.Query{Prefix: "key/12", Limit: 100, Desc: desc}
		text, args := b.sql.scanSQL("key, value, metadata, version, expires_at",
			scanWhere(store.Table{Database: "ns3", Name: "t2"}, q, time.Now()), q.Desc, q.Limit, q.Offset)
		rows, err := b.pool.Query(ctx, "EXPLAIN "+text, args...)
		if err != nil {
			t.Fatalf("EXPLAIN: %v", err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("EXPLAIN: %v", err)
		}
		plan := strings.Join(lines, "\n")
		t.Logf("EXPLAIN (desc %t):\n%s", desc, plan)
		// PostgreSQL may walk the range directly (Index Scan) or through a
		// bitmap (Bitmap Index Scan); either way the bounds are index
		// conditions on the primary key.
		pkey := strings.Trim(b.sql.records, `"`) + "_pkey"
		if !strings.Contains(plan, "Index Scan using "+pkey) && !strings.Contains(plan, "Bitmap Index Scan on "+pkey) {
			t.Errorf("plan of a prefix read (desc %t) does not scan %s:\n%s", desc, pkey, plan)
		}
		if cond := indexCond(lines); !strings.Contains(cond, "key >= ") || !strings.Contains(cond, "key < ") {
			t.Errorf("plan of a prefix read (desc %t) has index condition %q, want both key bounds", desc, cond)
		}
		for _, bad := range []string{"Seq Scan", "~~", "LIKE"} {
			if strings.Contains(plan, bad) {
				t.Errorf("plan of a prefix read (desc %t) has %q:\n%s", desc, bad, plan)
			}
		}
	}
}

// indexCond returns the first Index Cond line of a plan.
func indexCond(plan []string) string {
	for _, l := range plan {
		if _, cond, ok := strings.Cut(l, "Index Cond: "); ok {
			return cond
		}
	}
	return ""
}

// TestTxReportsCommitFailure makes the COMMIT itself fail, which
// crdb.ExecuteInTx ignores because in CockroachDB the RELEASE before it
// already committed. In PostgreSQL it did not, and tx must say so.
func TestTxReportsCommitFailure(t *testing.T) {
	b := openTest(t, nil)
	ctx := t.Context()
	err := b.tx(ctx, func(tx pgx.Tx) error {
		// A deferred constraint is checked only at COMMIT.
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE deferred (id INT UNIQUE DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO deferred VALUES (1), (1)")
		return err
	})
	if err == nil {
		t.Fatal("tx() = nil for a transaction whose COMMIT failed, want the commit's error")
	}
	t.Logf("tx() = %v", err)
}
