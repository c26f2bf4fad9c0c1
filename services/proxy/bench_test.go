package proxy

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/rules"
	"m3o.dev/pkg/token"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
)

// BenchmarkStoreRead reads one record from a real store service three ways
// in the same run: directly over mTLS; through a plain typed gRPC
// forwarder (decode, call, encode), the baseline a forwarding hop costs;
// and through the proxy. The difference of the p50s is what a hop adds, and
// the difference in process CPU per call is what running it costs.
func BenchmarkStoreRead(b *testing.B) {
	env := newBenchEnv(b)
	direct := storev1.NewStoreServiceClient(env.direct)
	ctx := identity.WithBearer(b.Context(), env.token)
	if _, err := direct.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "k", Value: []byte("value")}}); err != nil {
		b.Fatal(err)
	}

	var p50, cpu [3]float64
	paths := []struct {
		name string
		conn *grpc.ClientConn
	}{{"direct", env.direct}, {"plain-hop", env.plainHop}, {"proxy", env.proxied}}
	for i, path := range paths {
		b.Run(path.name, func(b *testing.B) {
			p50[i], cpu[i] = measureReads(b, ctx, storev1.NewStoreServiceClient(path.conn))
			if i > 0 { // compared with the direct path, measured first
				b.ReportMetric(p50[i]-p50[0], "added-p50-µs")
				b.ReportMetric(cpu[i]-cpu[0], "added-cpu-µs/op")
			}
		})
	}
}

// plainHop is the simplest forwarder gRPC allows: it decodes each request,
// calls the backend with the caller's metadata and encodes the answer.
type plainHop struct {
	storev1.UnimplementedStoreServiceServer
	backend storev1.StoreServiceClient
}

func (h plainHop) Read(ctx context.Context, req *storev1.ReadRequest) (*storev1.ReadResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return h.backend.Read(metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", md.Get("authorization")[0])), req)
}

// measureReads returns the p50 latency and the process CPU time per read.
func measureReads(b *testing.B, ctx context.Context, c storev1.StoreServiceClient) (p50, cpu float64) {
	req := &storev1.ReadRequest{Key: "k"}
	for range 100 { // warm connections and caches
		if _, err := c.Read(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	latencies := make([]time.Duration, 0, b.N)
	cpuStart := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := c.Read(ctx, req); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	cpu = float64(cpuTime()-cpuStart) / float64(time.Microsecond) / float64(len(latencies))
	slices.Sort(latencies)
	p50 = float64(latencies[len(latencies)/2]) / float64(time.Microsecond)
	b.ReportMetric(p50, "p50-µs")
	b.ReportMetric(cpu, "cpu-µs/op")
	return p50, cpu
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type benchEnv struct {
	direct, plainHop, proxied *grpc.ClientConn
	token                     string
}

// newBenchEnv runs a store service on the memory backend over mTLS and the
// proxy in front of it, and signs a tenant token both paths accept.
func newBenchEnv(b *testing.B) *benchEnv {
	ca := mtlstest.NewCA(b)
	kid, priv, err := token.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	keys := token.NewKeySet()
	keys.Add(kid, priv.Public().(ed25519.PublicKey))
	verifier := token.NewVerifier(keys)
	log := slog.New(slog.DiscardHandler)

	svc := store.New(memory.New(time.Now), log, store.Options{})
	storeSrv := corekit.NewServer(mtlstest.Bundle(b, ca, "micro", "store"), identity.NewAuthenticator(verifier), log, nil)
	storev1.RegisterStoreServiceServer(storeSrv.GRPC(), svc)
	storeAddr := serveGRPC(b, storeSrv)

	proxyBundle := mtlstest.Bundle(b, ca, "micro", "proxy")
	toStore := dialMTLS(b, storeAddr, proxyBundle)
	p := New(Config{
		Verifier:   verifier,
		Authorizer: NewRulesAuthorizer(rules.NewCache(staticRules{rules.NamespaceDefault("brave-otter-lamp")}, log, time.Hour)),
		Backends:   map[string]*grpc.ClientConn{"m3o.store.v1": toStore},
		Logger:     log,
	})
	// Both hops run on the platform's server kit, as the proxy does in
	// production, so they differ only in what they do with a call.
	proxyAddr := serveGRPC(b, grpcserver.New(grpcserver.Options{
		TLS: mtls.ServerOnlyConfig(proxyBundle.Cert), Logger: log, ServerOptions: p.ServerOptions(),
	}))
	hopSrv := grpcserver.New(grpcserver.Options{TLS: mtls.ServerOnlyConfig(proxyBundle.Cert), Logger: log})
	storev1.RegisterStoreServiceServer(hopSrv.GRPC(), plainHop{backend: storev1.NewStoreServiceClient(toStore)})
	hopAddr := serveGRPC(b, hopSrv)

	now := time.Now()
	raw, err := token.NewSigner(kid, priv).Sign(token.Claims{
		Subject: "acct-1", Namespace: "brave-otter-lamp", Type: "user",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), ID: token.NewID(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{
		direct:   dialMTLS(b, storeAddr, mtlstest.Bundle(b, ca, "micro", "bench")),
		plainHop: dialTLS(b, hopAddr, ca),
		proxied:  dialTLS(b, proxyAddr, ca),
		token:    raw,
	}
}

func serveGRPC(tb testing.TB, srv *grpcserver.Server) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	tb.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

func dialMTLS(tb testing.TB, addr string, b *mtls.Bundle) *grpc.ClientConn {
	conn, err := grpcclient.Dial(addr, b, mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

func dialTLS(tb testing.TB, addr string, ca *mtls.CA) *grpc.ClientConn {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(mtls.ClientRootsConfig(ca.Pool(), "127.0.0.1"))),
		grpc.WithInitialWindowSize(grpcclient.FlowWindow), grpc.WithInitialConnWindowSize(grpcclient.FlowWindow))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}
