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
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/store"
	"m3o.dev/services/store/cockroach"
)

// The benchmarks compare one operation on one row done directly with pgx
// against the same operation through StoreService over mTLS on loopback,
// on the same PostgreSQL in the same run. The two alternate call by call, so
// that both meet the same noise of a shared machine. Each benchmark reports
// the median and 99th percentile latency of each way (pgx-p50-µs,
// service-p50-µs, …), what the service adds to the direct median (added-µs)
// and their quotient (ratio). ns/op counts one call of every way.

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
	health  healthpb.HealthClient // on the client's connection
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
	srv := corekit.NewServer(mtlstest.Bundle(b, ca, "micro", "store"), identity.NewAuthenticator(nil), nil, nil)
	storev1.RegisterStoreServiceServer(srv.GRPC(), store.New(backend, nil, store.Options{}))
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
	return &benchEnv{pool: pool, records: records, client: storev1.NewStoreServiceClient(conn), health: healthpb.NewHealthClient(conn)}
}

// BenchmarkPointRead reads one row by its key. It also makes an empty call,
// a health check on the same connection: the least that any call through a
// service over mTLS costs, whatever the service does.
func BenchmarkPointRead(b *testing.B) {
	e := newBenchEnv(b)
	ctx := b.Context()
	value := make([]byte, 100)
	if _, err := e.client.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "bench/read", Value: value}}); err != nil {
		b.Fatalf("Write() = %v", err)
	}
	query := "SELECT value, metadata, version, expires_at FROM " + e.records +
		" WHERE namespace = $1 AND tbl = $2 AND key = $3 AND (expires_at IS NULL OR expires_at > $4)"
	compare(b,
		way{"pgx", func() error {
			var (
				v, md   []byte
				version int64
				expires *time.Time
			)
			return e.pool.QueryRow(ctx, query, benchNamespace, benchTable, []byte("bench/read"), time.Now()).Scan(&v, &md, &version, &expires)
		}},
		way{"empty-call", func() error {
			_, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}},
		way{"service", func() error {
			_, err := e.client.Read(ctx, &storev1.ReadRequest{Key: "bench/read"})
			return err
		}},
	)
}

// BenchmarkUpsert writes one row that already exists, with a value of the
// same size.
func BenchmarkUpsert(b *testing.B) {
	e := newBenchEnv(b)
	ctx := b.Context()
	value := make([]byte, 100)
	upsert := "INSERT INTO " + e.records + ` (namespace, tbl, key, rkey, value, version, size) VALUES ($1, $2, $3, $4, $5, 1, $6)
		ON CONFLICT (namespace, tbl, key) DO UPDATE SET value = excluded.value, version = ` + e.records + `.version + 1`
	compare(b,
		way{"pgx", func() error {
			_, err := e.pool.Exec(ctx, upsert, benchNamespace, benchTable, []byte("bench/pgx"), []byte("xgp/hcneb"), value, 109)
			return err
		}},
		way{"service", func() error {
			_, err := e.client.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "bench/service", Value: value}})
			return err
		}},
	)
}

// way is one way of doing the benchmarked operation.
type way struct {
	name string
	op   func() error
}

// compare does every way b.N times, taking them in turn and rotating which
// goes first, and reports each one's median and 99th percentile latency. The
// first way is the direct baseline and the last the service; added-µs and
// ratio compare their medians.
func compare(b *testing.B, ways ...way) {
	b.Helper()
	for _, w := range ways {
		for range 20 { // warm the connections
			if err := w.op(); err != nil {
				b.Fatalf("%s = %v", w.name, err)
			}
		}
	}
	lat := make([][]time.Duration, len(ways))
	b.ResetTimer()
	for i := range b.N {
		for j := range ways {
			k := (i + j) % len(ways)
			start := time.Now()
			if err := ways[k].op(); err != nil {
				b.Fatalf("%s = %v", ways[k].name, err)
			}
			lat[k] = append(lat[k], time.Since(start))
		}
	}
	b.StopTimer()
	p50 := make([]time.Duration, len(ways))
	for k, w := range ways {
		slices.Sort(lat[k])
		p50[k] = lat[k][len(lat[k])/2]
		b.ReportMetric(micros(p50[k]), w.name+"-p50-µs")
		b.ReportMetric(micros(lat[k][len(lat[k])*99/100]), w.name+"-p99-µs")
	}
	direct, service := p50[0], p50[len(ways)-1]
	b.ReportMetric(micros(service-direct), "added-µs")
	b.ReportMetric(float64(service)/float64(direct), "ratio")
}

// micros is d in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
