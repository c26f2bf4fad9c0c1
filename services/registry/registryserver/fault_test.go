package registryserver_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"m3o.dev/pkg/resolver"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// faultTTL is the registrations' TTL, the shortest etcd grants.
const faultTTL = 2

// converge bounds how long the registry and the resolver may take to settle
// after etcd comes back; it only keeps a broken build from hanging.
const converge = 30 * time.Second

// heartbeat registers svc every TTL/4 until stop is closed, riding out
// failures while etcd is down, as a service's SDK does.
func heartbeat(client registryv1.RegistryServiceClient, svc *registryv1.Service, stop <-chan struct{}, wg *sync.WaitGroup) {
	wg.Go(func() {
		tick := time.NewTicker(faultTTL * time.Second / 4)
		defer tick.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			client.Register(ctx, &registryv1.RegisterRequest{Service: svc, TtlSeconds: faultTTL})
			cancel()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
}

// TestEtcdRestart restarts etcd on the same data directory while services
// heartbeat. Afterwards every live service must be registered and resolvable
// again, and a service that died meanwhile must be gone and stay gone.
func TestEtcdRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startEtcd(t, dir, "", "")
	_, backend := etcdBackend(t, srv, "")
	e := startRegistry(t, backend)
	client := e.core(t, "runtime")
	r := startResolver(t, e.core(t, "config"))

	live := []*registryv1.Service{service("live-a", "n1"), service("live-b", "n1", "n2")}
	dead := service("dead", "n1")
	stopLive, stopDead := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stopLive); wg.Wait() }()
	for _, s := range live {
		heartbeat(client, s, stopLive, &wg)
	}
	heartbeat(client, dead, stopDead, &wg)
	waitFor(t, r, client, []string{"dead", "live-a", "live-b"})

	// The dead service stops just before etcd goes away; etcd then stays
	// down for longer than a TTL.
	close(stopDead)
	start := time.Now()
	srv.Close()
	t.Logf("etcd stopped in %s", time.Since(start))
	time.Sleep(2 * faultTTL * time.Second)
	start = time.Now()
	startEtcd(t, dir, srv.ClientURL(), srv.PeerURL())
	t.Logf("etcd restarted in %s", time.Since(start))

	waitFor(t, r, client, []string{"live-a", "live-b"})
	t.Logf("converged %s after the restart", time.Since(start))
	// Over several TTLs the dead service must never come back, in the
	// registry or in the resolver. A live one may blink out when a
	// heartbeat is late on a busy machine, so it is only required to be
	// back at the end.
	settle := time.Now().Add(4 * faultTTL * time.Second)
	for time.Now().Before(settle) {
		if got := registered(t, client); slices.Contains(got, "dead") {
			t.Fatalf("registry after the restart = %v, want the dead service gone for good", got)
		}
		if got := resolved(r); slices.Contains(got, "dead") {
			t.Fatalf("resolver after the restart = %v, want the dead service gone for good", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, r, client, []string{"live-a", "live-b"})
	if n, err := r.Pick("live-b"); err != nil || (n.GetId() != "n1" && n.GetId() != "n2") {
		t.Errorf("Pick(live-b) = %v, %v, want one of its nodes", n, err)
	}
}

// waitFor waits until both the registry and the resolver hold exactly want.
func waitFor(t *testing.T, r *resolver.Resolver, client registryv1.RegistryServiceClient, want []string) {
	t.Helper()
	deadline := time.Now().Add(converge)
	for {
		reg, res := registered(t, client), resolved(r)
		if slices.Equal(reg, want) && slices.Equal(res, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: registry = %v, resolver = %v, want %v in both", converge, reg, res, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registered lists the micro domain's services, or reports the error as the
// one entry while etcd is still coming back.
func registered(t *testing.T, client registryv1.RegistryServiceClient) []string {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	resp, err := client.ListServices(ctx, &registryv1.ListServicesRequest{})
	if err != nil {
		return []string{fmt.Sprint(err)}
	}
	return names(resp.GetServices())
}

func resolved(r *resolver.Resolver) []string {
	return names(r.Services())
}
