package storeserver_test

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/store"
	"m3o.dev/services/store/cockroach"
	"m3o.dev/services/store/storeserver"
)

// The benchmarks compare one operation on one row done directly with pgx
// against the same operation through StoreService over mTLS on loopback,
// on the same PostgreSQL in the same run. Each reports the median latency
// of its operations in p50-µs; the service's also reports added-µs, its
// median minus the direct one's.

// benchDB is the row both sides work on: the service's database is the
// client's namespace.
const (
	benchNamespace = "bench-tenant"
	benchTable     = "default"
)

// benchEnv is a store on the cockroach backend served over mTLS, and a
// direct pool on the same tables.
type benchEnv struct {
	pool    *pgxpool.Pool
	records string // quoted name of the records table
	client  storev1.StoreServiceClient
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	dsn := os.Getenv("MICRO_TEST_POSTGRES_DSN")
	if dsn == "" {
		if testing.Short() {
			b.Skip("-short: skipping a benchmark that needs PostgreSQL")
		}
		b.Fatal("MICRO_TEST_POSTGRES_DSN is not set; run through scripts/with-postgres.sh")
	}
	prefix := "bench_" + strings.ToLower(rand.Text()[:8])
	backend, err := cockroach.Open(b.Context(), dsn, cockroach.Options{Table: prefix})
	if err != nil {
		b.Fatalf("cockroach.Open() = %v", err)
	}
	pool, err := pgxpool.New(b.Context(), dsn)
	if err != nil {
		b.Fatalf("pgxpool.New() = %v", err)
	}
	records := pgx.Identifier{prefix + "_records"}.Sanitize()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, "DROP TABLE IF EXISTS "+records+", "+pgx.Identifier{prefix + "_usage"}.Sanitize())
		pool.Close()
		backend.Close()
	})
	ca := mtlstest.NewCA(b)
	srv := storeserver.NewServer(store.New(backend, nil, store.Options{}), mtlstest.Bundle(b, ca, "micro", "store"), nil, nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	b.Cleanup(func() { cancel(); <-done })
	conn, err := grpcclient.Dial(lis.Addr().String(), mtlstest.Bundle(b, ca, benchNamespace, "bench"), mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		b.Fatalf("Dial() = %v", err)
	}
	b.Cleanup(func() { conn.Close() })
	return &benchEnv{pool: pool, records: records, client: storev1.NewStoreServiceClient(conn)}
}

// BenchmarkPointRead reads one row by its key.
func BenchmarkPointRead(b *testing.B) {
	e := newBenchEnv(b)
	ctx := b.Context()
	value := make([]byte, 100)
	if _, err := e.client.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "bench/read", Value: value}}); err != nil {
		b.Fatalf("Write() = %v", err)
	}
	query := "SELECT value, metadata, version, expires_at FROM " + e.records +
		" WHERE namespace = $1 AND tbl = $2 AND key = $3 AND (expires_at IS NULL OR expires_at > $4)"
	var direct time.Duration
	b.Run("pgx", func(b *testing.B) {
		direct = measure(b, func() error {
			var (
				v, md   []byte
				version int64
				expires *time.Time
			)
			return e.pool.QueryRow(ctx, query, benchNamespace, benchTable, []byte("bench/read"), time.Now()).Scan(&v, &md, &version, &expires)
		})
	})
	b.Run("service", func(b *testing.B) {
		p50 := measure(b, func() error {
			_, err := e.client.Read(ctx, &storev1.ReadRequest{Key: "bench/read"})
			return err
		})
		reportAdded(b, p50, direct)
	})
}

// BenchmarkUpsert writes one row that already exists, with a value of the
// same size.
func BenchmarkUpsert(b *testing.B) {
	e := newBenchEnv(b)
	ctx := b.Context()
	value := make([]byte, 100)
	upsert := "INSERT INTO " + e.records + ` (namespace, tbl, key, rkey, value, version, size) VALUES ($1, $2, $3, $4, $5, 1, $6)
		ON CONFLICT (namespace, tbl, key) DO UPDATE SET value = excluded.value, version = ` + e.records + `.version + 1`
	var direct time.Duration
	b.Run("pgx", func(b *testing.B) {
		direct = measure(b, func() error {
			_, err := e.pool.Exec(ctx, upsert, benchNamespace, benchTable, []byte("bench/pgx"), []byte("xgp/hcneb"), value, 109)
			return err
		})
	})
	b.Run("service", func(b *testing.B) {
		p50 := measure(b, func() error {
			_, err := e.client.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "bench/service", Value: value}})
			return err
		})
		reportAdded(b, p50, direct)
	})
}

// measure runs op b.N times, timing each, and reports and returns the
// median.
func measure(b *testing.B, op func() error) time.Duration {
	b.Helper()
	if err := op(); err != nil { // warm the connections
		b.Fatalf("op = %v", err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatalf("op = %v", err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	p50 := lat[len(lat)/2]
	b.ReportMetric(micros(p50), "p50-µs")
	b.ReportMetric(micros(lat[len(lat)*99/100]), "p99-µs")
	return p50
}

// reportAdded reports what the service adds to the direct median, when the
// direct side ran in this process.
func reportAdded(b *testing.B, service, direct time.Duration) {
	if direct > 0 {
		b.ReportMetric(micros(service-direct), "added-µs")
	}
}

// micros is d in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
