package registryserver_test

import (
	"context"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// BenchmarkGetService looks up one service three ways in one run, each
// reporting its median latency: from the resolver's watch-fed cache, through
// the RegistryService RPC over mTLS loopback, and as the raw etcd read that
// the RPC makes, which is the direct baseline.
func BenchmarkGetService(b *testing.B) {
	srv := startEtcd(b, b.TempDir(), "", "")
	etcdClient, backend := etcdBackend(b, srv, "/bench/")
	e := startRegistry(b, backend)
	client := e.core(b, "runtime")
	ctx := context.Background()
	svc := service("greeter", "n1", "n2", "n3")
	if _, err := client.Register(ctx, &registryv1.RegisterRequest{Service: svc, TtlSeconds: 3600}); err != nil {
		b.Fatalf("Register = %v", err)
	}
	r := startResolver(b, e.core(b, "config"))
	for deadline := time.Now().Add(converge); ; time.Sleep(time.Millisecond) {
		if _, ok := r.Lookup("greeter"); ok {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("resolver never saw greeter")
		}
	}

	b.Run("cache", func(b *testing.B) {
		measure(b, func() bool { _, ok := r.Lookup("greeter"); return ok })
	})
	b.Run("cache-pick", func(b *testing.B) {
		measure(b, func() bool { _, err := r.Pick("greeter"); return err == nil })
	})
	b.Run("rpc", func(b *testing.B) {
		req := &registryv1.GetServiceRequest{Name: "greeter"}
		measure(b, func() bool {
			resp, err := client.GetService(ctx, req)
			return err == nil && len(resp.GetServices()) == 1
		})
	})
	b.Run("etcd", func(b *testing.B) {
		measure(b, func() bool {
			resp, err := etcdClient.Get(ctx, "/bench/micro/greeter/", clientv3.WithPrefix())
			return err == nil && len(resp.Kvs) == 3
		})
	})
}

// measure runs op b.N times, timing each call, and reports the median as
// p50-ns: a mean would hide a slow tail behind many fast calls and the
// other way round.
func measure(b *testing.B, op func() bool) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		ok := op()
		lat = append(lat, time.Since(start))
		if !ok {
			b.Fatal("lookup failed")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
}
