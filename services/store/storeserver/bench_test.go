package storeserver_test

import (
	"context"
	"crypto/ed25519"
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
	"m3o.dev/pkg/token"
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
	// benchQuota caps the database as micro server's default does, so
	// that the service's writes check a quota like the platform's.
	benchQuota = 64 << 20
)

// benchEnv is a store on the cockroach backend served over mTLS, and a
// direct pool on the same tables.
type benchEnv struct {
	pool    *pgxpool.Pool
	backend *cockroach.Backend
	records string // quoted name of the records table
	client  storev1.StoreServiceClient
	health  healthpb.HealthClient // on the client's connection
	bearer  string                // the tenant's token the calls carry
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
	verifier, bearer := benchToken(b)
	srv := corekit.NewServer(mtlstest.Bundle(b, ca, "micro", "store"), identity.NewAuthenticator(verifier), nil, nil)
	storev1.RegisterStoreServiceServer(srv.GRPC(), store.New(backend, nil, store.Options{QuotaBytes: benchQuota}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	b.Cleanup(func() { cancel(); <-done })
	// The calls come as the proxy relays a tenant's: over the proxy's
	// mTLS identity, with the tenant's token, which the store verifies.
	conn, err := grpcclient.Dial(lis.Addr().String(), mtlstest.Bundle(b, ca, "micro", "proxy"), mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		b.Fatalf("Dial() = %v", err)
	}
	b.Cleanup(func() { conn.Close() })
	return &benchEnv{pool: pool, backend: backend, records: records, client: storev1.NewStoreServiceClient(conn), health: healthpb.NewHealthClient(conn), bearer: bearer}
}

// benchToken returns a verifier of tokens and a tenant's token it accepts.
func benchToken(b *testing.B) (*token.Verifier, string) {
	b.Helper()
	kid, priv, err := token.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	keys := token.NewKeySet()
	keys.Add(kid, priv.Public().(ed25519.PublicKey))
	now := time.Now()
	raw, err := token.NewSigner(kid, priv).Sign(token.Claims{
		Subject: "acct-1", Namespace: benchNamespace, Type: "user",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), ID: token.NewID(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return token.NewVerifier(keys), raw
}

// BenchmarkPointRead reads one row by its key. It also makes an empty call,
// a health check on the same connection: the least that any call through a
// service over mTLS costs, whatever the service does.
func BenchmarkPointRead(b *testing.B) {
	e := newBenchEnv(b)
	ctx := identity.WithBearer(b.Context(), e.bearer)
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
// same size, in three ways: a plain pgx upsert; the backend's own statement,
// with the same semantics as the service's write (version, expiry, the
// database's usage against its quota), sent by pgx in process; and through
// the service. ratio compares the service with the plain upsert, and
// ratio-same-semantics with the backend's statement. The empty call, as in
// BenchmarkPointRead, is the hop's own share.
func BenchmarkUpsert(b *testing.B) {
	e := newBenchEnv(b)
	ctx := identity.WithBearer(b.Context(), e.bearer)
	value := make([]byte, 100)
	upsert := "INSERT INTO " + e.records + ` (namespace, tbl, key, rkey, value, version, size) VALUES ($1, $2, $3, $4, $5, 1, $6)
		ON CONFLICT (namespace, tbl, key) DO UPDATE SET value = excluded.value, version = ` + e.records + `.version + 1`
	compare(b,
		way{"pgx", func() error {
			_, err := e.pool.Exec(ctx, upsert, benchNamespace, benchTable, []byte("bench/pgx"), []byte("xgp/hcneb"), value, 109)
			return err
		}},
		way{"same-semantics", func() error {
			_, err := e.backend.Put(ctx, store.Table{Database: benchNamespace, Name: benchTable},
				store.Record{Key: "bench/backend", Value: value}, store.PutOptions{QuotaBytes: benchQuota})
			return err
		}},
		way{"empty-call", func() error {
			_, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{})
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
	for k, w := range ways[1 : len(ways)-1] {
		if w.name == "same-semantics" {
			b.ReportMetric(float64(service)/float64(p50[k+1]), "ratio-same-semantics")
		}
	}
}

// micros is d in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
