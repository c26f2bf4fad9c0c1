package sdkcheck_test

import (
	"context"
	"log/slog"
	"slices"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

// benchBlock is how many calls each path makes before the other takes
// over: short enough that both meet the same noise, long enough that
// reading the CPU clock around a block costs nothing per call.
const benchBlock = 50

// BenchmarkUserServiceCall calls one instance of a user's service two ways
// in the same run, alternating in blocks: directly over mTLS, as the proxy
// itself reaches it (the same certificate and caller metadata, so the
// instance does the same work), and through the proxy with a tenant's
// token and the micro-service header. The difference of the p50s is what
// the proxy adds to a call, and the difference in process CPU per call
// (client, proxy and instance share the process) is what it costs.
func BenchmarkUserServiceCall(b *testing.B) {
	e := newEnv(b)
	in := e.runLogged(b, tenantA, "hello", "Hello", slog.New(slog.DiscardHandler))
	alice := e.account(b, tenantA, "alice")
	paths := [2]*benchPath{
		{client: directClient(b, e, in.addr), ctx: metadata.AppendToOutgoingContext(b.Context(),
			identity.CallerNamespaceKey, tenantA, identity.CallerAccountKey, alice.id)},
		{client: e.hello(), ctx: alice.to("hello")},
	}
	for _, p := range paths {
		for range 100 { // warm connections, caches and the resolver
			p.call(b)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := paths[(i/benchBlock)%2]
		if i%benchBlock == 0 {
			p.blockStart = cpuTime()
		}
		p.lat = append(p.lat, p.call(b))
		if i%benchBlock == benchBlock-1 {
			p.cpu += cpuTime() - p.blockStart
			p.calls += benchBlock
		}
	}
	b.StopTimer()
	direct, proxied := paths[0].figures(), paths[1].figures()
	b.ReportMetric(direct.p50, "direct-p50-µs")
	b.ReportMetric(proxied.p50, "proxy-p50-µs")
	b.ReportMetric(proxied.p50-direct.p50, "added-p50-µs")
	b.ReportMetric(direct.cpu, "direct-cpu-µs/op")
	b.ReportMetric(proxied.cpu, "proxy-cpu-µs/op")
	b.ReportMetric(proxied.cpu-direct.cpu, "added-cpu-µs/op")
}

// benchPath is one way of calling the instance and what it measured.
type benchPath struct {
	client     hellopb.HelloClient
	ctx        context.Context
	lat        []time.Duration
	cpu        time.Duration // of complete blocks
	calls      int           // in complete blocks
	blockStart time.Duration
}

var benchReq = &hellopb.CallRequest{Name: "Ann"}

// call makes one call and returns how long it took.
func (p *benchPath) call(b *testing.B) time.Duration {
	start := time.Now()
	if _, err := p.client.Call(p.ctx, benchReq); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// figures are a path's p50 latency and CPU time per call, in µs.
func (p *benchPath) figures() (f struct{ p50, cpu float64 }) {
	if len(p.lat) > 0 {
		slices.Sort(p.lat)
		f.p50 = float64(p.lat[len(p.lat)/2]) / float64(time.Microsecond)
	}
	if p.calls > 0 {
		f.cpu = float64(p.cpu) / float64(time.Microsecond) / float64(p.calls)
	}
	return f
}

// directClient connects straight to the instance as the proxy does.
func directClient(b *testing.B, e *env, addr string) hellopb.HelloClient {
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(b, e.CA, platform.Namespace, platform.Proxy), mtls.Identity{Namespace: tenantA, Service: "hello"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return hellopb.NewHelloClient(conn)
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
