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
// and through the proxy. The paths take turns in short rounds, so that a
// noisy neighbour or a frequency change hits all three alike. The
// difference of the p50s is what a hop adds, and the difference in process
// CPU per call is what running it costs; proxy-over-hop-cpu-µs/op is the
// proxy's cost beyond the plain hop's.
func BenchmarkStoreRead(b *testing.B) {
	env := newBenchEnv(b)
	ctx := identity.WithBearer(b.Context(), env.token)
	if _, err := storev1.NewStoreServiceClient(env.direct).Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "k", Value: []byte("value")}}); err != nil {
		b.Fatal(err)
	}
	paths := []*readPath{
		{name: "direct", client: storev1.NewStoreServiceClient(env.direct)},
		{name: "plain-hop", client: storev1.NewStoreServiceClient(env.plainHop)},
		{name: "proxy", client: storev1.NewStoreServiceClient(env.proxied)},
	}
	for _, p := range paths {
		p.read(b, ctx, 100) // warm connections and caches
		p.latencies, p.cpu = nil, 0
	}
	// A thousand rounds, so that the garbage collector's work and the
	// machine's moods land on every path alike: with twenty, the difference
	// between the proxy and the plain hop moved by ±13 µs from run to run.
	const rounds = 1000
	b.ResetTimer()
	for r := range rounds {
		for _, p := range paths {
			p.read(b, ctx, b.N/rounds+boolInt(r < b.N%rounds))
		}
	}
	b.StopTimer()
	direct, hop, proxy := paths[0], paths[1], paths[2]
	for _, p := range paths {
		b.ReportMetric(p.p50(), p.name+"-p50-µs")
	}
	b.ReportMetric(hop.cpuPerCall()-direct.cpuPerCall(), "hop-added-cpu-µs/op")
	b.ReportMetric(proxy.cpuPerCall()-direct.cpuPerCall(), "proxy-added-cpu-µs/op")
	b.ReportMetric(proxy.cpuPerCall()-hop.cpuPerCall(), "proxy-over-hop-cpu-µs/op")
	b.ReportMetric(proxy.p50()-hop.p50(), "proxy-over-hop-p50-µs")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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

// readPath is one way to the store, with what its reads took: wall time
// each, and the process's CPU time in all.
type readPath struct {
	name      string
	client    storev1.StoreServiceClient
	latencies []time.Duration
	cpu       time.Duration
}

// read makes n reads of the benchmark's record.
func (p *readPath) read(b *testing.B, ctx context.Context, n int) {
	req := &storev1.ReadRequest{Key: "k"}
	cpuStart := cpuTime()
	for range n {
		start := time.Now()
		if _, err := p.client.Read(ctx, req); err != nil {
			b.Fatalf("%s: %v", p.name, err)
		}
		p.latencies = append(p.latencies, time.Since(start))
	}
	p.cpu += cpuTime() - cpuStart
}

func (p *readPath) p50() float64 {
	sorted := slices.Sorted(slices.Values(p.latencies))
	return float64(sorted[len(sorted)/2]) / float64(time.Microsecond)
}

func (p *readPath) cpuPerCall() float64 {
	return float64(p.cpu) / float64(time.Microsecond) / float64(len(p.latencies))
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
