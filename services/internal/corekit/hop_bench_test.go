package corekit_test

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/token"
	"m3o.dev/services/internal/corekit"
)

// commitWait is about how long a store write waits on PostgreSQL's commit,
// during which its caller and the store service have nothing to do.
const commitWait = 300 * time.Microsecond

// BenchmarkHop is the cost of one hop between platform services on
// loopback, taken apart: a TCP round trip of a few bytes, a bare gRPC call
// over mTLS (grpc-go's health check, no interceptor), and the same call
// through the server every core service runs, dialled as services dial
// each other. "busy" makes the calls back to back; "idle" waits a
// commit's length before each, as a caller of the store does between
// writes. Against the store's write benchmark it tells how much of what
// the service adds to a write is the hop, and how much of the hop is the
// wait for threads that went idle meanwhile rather than work: compare the
// two at one P and at two (make bench runs both).
func BenchmarkHop(b *testing.B) {
	ca := mtlstest.NewCA(b)
	ways := []hopWay{
		{"tcp", tcpRoundTrip(b)},
		{"grpc", healthCall(b, ca, bareServer(b, ca))},
		{"service", healthCall(b, ca, serviceServer(b, ca))},
	}
	b.Run("busy", func(b *testing.B) { measureHop(b, 0, ways) })
	b.Run("idle", func(b *testing.B) { measureHop(b, commitWait, ways) })
}

// hopWay is one way across the hop.
type hopWay struct {
	name  string
	cross func() error
}

// measureHop crosses every way b.N times in turn, each after waiting gap,
// and reports each one's median latency.
func measureHop(b *testing.B, gap time.Duration, ways []hopWay) {
	lat := make([][]time.Duration, len(ways))
	b.ResetTimer()
	for i := range b.N {
		for j := range ways {
			k := (i + j) % len(ways)
			if gap > 0 {
				time.Sleep(gap)
			}
			start := time.Now()
			if err := ways[k].cross(); err != nil {
				b.Fatalf("%s: %v", ways[k].name, err)
			}
			lat[k] = append(lat[k], time.Since(start))
		}
	}
	b.StopTimer()
	for k, w := range ways {
		slices.Sort(lat[k])
		b.ReportMetric(float64(lat[k][len(lat[k])/2])/float64(time.Microsecond), w.name+"-p50-µs")
	}
}

// tcpRoundTrip returns a way that sends 32 bytes to an echo server on
// loopback and reads them back: the floor under any call.
func tcpRoundTrip(b *testing.B) func() error {
	lis := listen(b)
	b.Cleanup(func() { lis.Close() })
	go func() {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	msg, back := make([]byte, 32), make([]byte, 32)
	return func() error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, back)
		return err
	}
}

// bareServer serves grpc-go's health service over mTLS with nothing else,
// and returns its address.
func bareServer(b *testing.B, ca *mtls.CA) string {
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(mtlstest.Bundle(b, ca, "micro", "store").ServerConfig())))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis := listen(b)
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// serviceServer serves the server every core service runs, with its
// interceptors, and returns its address.
func serviceServer(b *testing.B, ca *mtls.CA) string {
	srv := corekit.NewServer(mtlstest.Bundle(b, ca, "micro", "store"), identity.NewAuthenticator(token.NewVerifier(token.NewKeySet())), nil, nil)
	lis := listen(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	b.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

// healthCall returns a way that checks the health of the server at addr
// on a connection dialled as one platform service dials another.
func healthCall(b *testing.B, ca *mtls.CA, addr string) func() error {
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(b, ca, "micro", "proxy"), mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)
	check := func() error {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err
	}
	for range 20 { // connect and warm up
		if err := check(); err != nil {
			b.Fatal(err)
		}
	}
	return check
}

func listen(b *testing.B) net.Listener {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return lis
}
