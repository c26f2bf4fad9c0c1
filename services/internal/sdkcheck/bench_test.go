package sdkcheck_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
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
	direct := grpcPath(directClient(b, e, in.addr), metadata.AppendToOutgoingContext(b.Context(),
		identity.CallerNamespaceKey, tenantA, identity.CallerAccountKey, alice.id))
	proxied := grpcPath(e.hello(), alice.to("hello"))
	race(b, direct, proxied)
	report(b, "direct", direct, "proxy", proxied)
}

// BenchmarkUserServiceHTTP calls a user's service through the proxy two
// ways in the same run, alternating in blocks: over gRPC, and as JSON over
// HTTP through the gateway, on a kept-alive connection. The difference is
// what the gateway adds: reading the method from the service's reflection,
// and JSON both ways.
func BenchmarkUserServiceHTTP(b *testing.B) {
	e := newEnv(b)
	e.runLogged(b, tenantA, "hello", "Hello", slog.New(slog.DiscardHandler))
	alice := e.account(b, tenantA, "alice")
	grpcCall := grpcPath(e.hello(), alice.to("hello"))
	httpCall := httpPath(b, "http://"+e.ProxyHTTP()+"/v1/call/hello/Hello.Call", alice.token)
	race(b, grpcCall, httpCall)
	report(b, "grpc", grpcCall, "http", httpCall)
}

// race runs b.N calls over both paths, alternating in blocks so that both
// meet the same noise, each path warmed first.
func race(b *testing.B, paths ...*benchPath) {
	for _, p := range paths {
		for range 100 { // warm connections, caches and the resolver
			p.call(b)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := paths[(i/benchBlock)%len(paths)]
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
}

// report gives the p50 latency and CPU per call of a baseline and of the
// path compared with it, and what the path adds.
func report(b *testing.B, baseName string, base *benchPath, name string, path *benchPath) {
	bf, pf := base.figures(), path.figures()
	b.ReportMetric(bf.p50, baseName+"-p50-µs")
	b.ReportMetric(pf.p50, name+"-p50-µs")
	b.ReportMetric(pf.p50-bf.p50, "added-p50-µs")
	b.ReportMetric(bf.cpu, baseName+"-cpu-µs/op")
	b.ReportMetric(pf.cpu, name+"-cpu-µs/op")
	b.ReportMetric(pf.cpu-bf.cpu, "added-cpu-µs/op")
}

// benchPath is one way of calling the instance and what it measured.
type benchPath struct {
	do         func() error
	lat        []time.Duration
	cpu        time.Duration // of complete blocks
	calls      int           // in complete blocks
	blockStart time.Duration
}

var benchReq = &hellopb.CallRequest{Name: "Ann"}

// grpcPath calls Hello.Call through client with ctx.
func grpcPath(client hellopb.HelloClient, ctx context.Context) *benchPath {
	return &benchPath{do: func() error {
		_, err := client.Call(ctx, benchReq)
		return err
	}}
}

// httpPath posts a JSON Hello.Call to url with the token.
func httpPath(b *testing.B, url, token string) *benchPath {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	b.Cleanup(client.CloseIdleConnections)
	return &benchPath{do: func() error {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"name":"Ann"}`))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("POST %s = %d %s", url, resp.StatusCode, body)
		}
		return err
	}}
}

// call makes one call and returns how long it took.
func (p *benchPath) call(b *testing.B) time.Duration {
	start := time.Now()
	if err := p.do(); err != nil {
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
