package registrytest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"m3o.dev/services/registry"
)

const domain = "tenant-a"

func testRegisterGet(t *testing.T, b registry.Backend) {
	mustRegister(t, b, domain, svc("greeter", "v1", "n1", "n2"), time.Minute)
	tests := []struct {
		name    string
		service string
		want    []*registry.Service
	}{
		{"registered", "greeter", []*registry.Service{svc("greeter", "v1", "n1", "n2")}},
		{"unknown", "nobody", nil},
		{"prefix of a name", "greet", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.GetService(t.Context(), domain, tt.service)
			if tt.want == nil {
				if !errors.Is(err, registry.ErrNotFound) {
					t.Fatalf("GetService(%q) = %v, %v, want ErrNotFound", tt.service, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetService(%q) = %v, want nil", tt.service, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GetService(%q) (-want +got):\n%s", tt.service, diff)
			}
		})
	}
}

func testRoundTrip(t *testing.T, b registry.Backend) {
	in := &registry.Service{
		Name:     "greeter",
		Version:  "v1.2.3/beta+build%1",
		Metadata: map[string]string{"owner": "team-a", "unicode": "Grüße, 世界"},
		Endpoints: []registry.Endpoint{
			{Name: "Greeter.Hello", Request: "greeter.v1.HelloRequest", Response: "greeter.v1.HelloResponse", Metadata: map[string]string{"stream": "false"}},
			{Name: "Greeter.Watch", Request: "greeter.v1.WatchRequest", Response: "greeter.v1.WatchResponse"},
		},
		Nodes: []registry.Node{{ID: "node-1:abc", Address: "[::1]:8080", Metadata: map[string]string{"zone": "a"}}},
	}
	mustRegister(t, b, domain, in, time.Minute)
	got := mustGet(t, b, domain, "greeter")
	if diff := cmp.Diff([]*registry.Service{in}, got); diff != "" {
		t.Errorf("GetService after Register (-want +got):\n%s", diff)
	}
	list, err := b.ListServices(t.Context(), domain)
	if err != nil {
		t.Fatalf("ListServices = %v, want nil", err)
	}
	if diff := cmp.Diff([]*registry.Service{in}, list); diff != "" {
		t.Errorf("ListServices (-want +got):\n%s", diff)
	}
	got[0].Metadata["owner"] = "mutated"
	if again := mustGet(t, b, domain, "greeter"); again[0].Metadata["owner"] != "team-a" {
		t.Errorf("GetService after mutating a result = owner %q, want %q: results must be copies", again[0].Metadata["owner"], "team-a")
	}
}

func testVersions(t *testing.T, b registry.Backend) {
	mustRegister(t, b, domain, svc("greeter", "v2", "b"), time.Minute)
	mustRegister(t, b, domain, svc("greeter", "v1", "a"), time.Minute)
	mustRegister(t, b, domain, svc("greeter", "", "c"), time.Minute)
	mustRegister(t, b, domain, svc("alpha", "v1", "z"), time.Minute)
	mustRegister(t, b, domain, svc("greeter.v2", "v1", "y"), time.Minute)
	want := []*registry.Service{svc("greeter", "", "c"), svc("greeter", "v1", "a"), svc("greeter", "v2", "b")}
	if diff := cmp.Diff(want, mustGet(t, b, domain, "greeter")); diff != "" {
		t.Errorf("GetService(greeter) (-want +got):\n%s", diff)
	}
	list, err := b.ListServices(t.Context(), domain)
	if err != nil {
		t.Fatalf("ListServices = %v, want nil", err)
	}
	wantList := append([]*registry.Service{svc("alpha", "v1", "z")}, append(want, svc("greeter.v2", "v1", "y"))...)
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("ListServices (-want +got):\n%s", diff)
	}
}

func testDeregister(t *testing.T, b registry.Backend) {
	tests := []struct {
		name       string
		deregister *registry.Service
		want       []*registry.Service
	}{
		{"one node", svc("greeter", "v1", "n2"), []*registry.Service{svc("greeter", "v1", "n1", "n3"), svc("greeter", "v2", "m1")}},
		{"whole version", &registry.Service{Name: "greeter", Version: "v1"}, []*registry.Service{svc("greeter", "v2", "m1")}},
		{"absent node", svc("greeter", "v1", "zz"), []*registry.Service{svc("greeter", "v1", "n1", "n2", "n3"), svc("greeter", "v2", "m1")}},
		{"absent service", svc("nobody", "v1", "n1"), []*registry.Service{svc("greeter", "v1", "n1", "n2", "n3"), svc("greeter", "v2", "m1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustRegister(t, b, domain, svc("greeter", "v1", "n1", "n2", "n3"), time.Minute)
			mustRegister(t, b, domain, svc("greeter", "v2", "m1"), time.Minute)
			mustDeregister(t, b, domain, tt.deregister)
			got := mustGet(t, b, domain, "greeter")
			// The addresses of a node depend on its place in the
			// registration, so compare node ids.
			if diff := cmp.Diff(briefAll(tt.want), briefAll(got)); diff != "" {
				t.Errorf("GetService after Deregister (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("last node", func(t *testing.T) {
		mustRegister(t, b, domain, svc("solo", "v1", "n1"), time.Minute)
		mustDeregister(t, b, domain, svc("solo", "v1", "n1"))
		wantNotFound(t, b, domain, "solo")
	})
}

func briefAll(s []*registry.Service) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = briefService(x)
	}
	return out
}

func testDomains(t *testing.T, b registry.Backend) {
	mustRegister(t, b, "tenant-a", svc("greeter", "v1", "a1"), time.Minute)
	mustRegister(t, b, "tenant-b", svc("greeter", "v1", "b1"), time.Minute)
	mustRegister(t, b, "tenant-b", svc("private", "v1", "b2"), time.Minute)
	if diff := cmp.Diff([]string{"greeter@v1(a1)"}, briefAll(mustGet(t, b, "tenant-a", "greeter"))); diff != "" {
		t.Errorf("GetService(tenant-a, greeter) (-want +got):\n%s", diff)
	}
	wantNotFound(t, b, "tenant-a", "private")
	list, err := b.ListServices(t.Context(), "tenant-a")
	if err != nil {
		t.Fatalf("ListServices(tenant-a) = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{"greeter@v1(a1)"}, briefAll(list)); diff != "" {
		t.Errorf("ListServices(tenant-a) (-want +got):\n%s", diff)
	}
	mustDeregister(t, b, "tenant-a", &registry.Service{Name: "private", Version: "v1"})
	if got := mustGet(t, b, "tenant-b", "private"); len(got) != 1 {
		t.Errorf("GetService(tenant-b, private) after a deregister in tenant-a = %d versions, want 1", len(got))
	}
	empty, err := b.ListServices(t.Context(), "tenant-c")
	if err != nil || len(empty) != 0 {
		t.Errorf("ListServices(tenant-c) = %v, %v, want none", empty, err)
	}
}

func testOversized(t *testing.T, b registry.Backend) {
	s := svc("big", "v1", "n1")
	s.Nodes[0].Metadata = map[string]string{"blob": strings.Repeat("x", 2*registry.MaxRegistrationBytes)}
	if err := b.Register(t.Context(), domain, s, time.Minute); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("Register(2 MiB) = %v, want ErrInvalid", err)
	}
	wantNotFound(t, b, domain, "big")
}

func testHeartbeat(t *testing.T, b registry.Backend) {
	mustRegister(t, b, domain, svc("greeter", "v1", "n1"), time.Minute)
	w := watch(t, b, domain, "")
	w.expect(t, "snapshot[greeter@v1(n1)]")
	for range 3 {
		mustRegister(t, b, domain, svc("greeter", "v1", "n1"), time.Minute)
	}
	changed := svc("greeter", "v1", "n1")
	changed.Metadata = map[string]string{"release": "2"}
	mustRegister(t, b, domain, changed, time.Minute)
	// A heartbeat changes nothing a watcher sees, so the first event after
	// the three heartbeats is the change of details.
	ev := w.next(t)
	if ev.Type != registry.EventUpdate || ev.Service.Metadata["release"] != "2" {
		t.Fatalf("first event after heartbeats = %s %v, want update with release 2", brief(ev), ev.Service)
	}
	if diff := cmp.Diff([]*registry.Service{changed}, mustGet(t, b, domain, "greeter")); diff != "" {
		t.Errorf("GetService after an update (-want +got):\n%s", diff)
	}
}

// testExpiry keeps one node heartbeating and lets another lapse: the lapsed
// one must be gone within its TTL plus a second of its last registration.
func testExpiry(t *testing.T, b registry.Backend) {
	live, dead := svc("greeter", "v1", "live"), svc("greeter", "v1", "dead")
	mustRegister(t, b, domain, live, ShortTTL)
	mustRegister(t, b, domain, dead, ShortTTL)
	lastDead := time.Now()
	w := watch(t, b, domain, "greeter")
	w.expect(t, "snapshot[greeter@v1(dead,live)]")

	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(ShortTTL / 4)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
				if err := b.Register(t.Context(), domain, live, ShortTTL); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Errorf("heartbeat Register = %v, want nil", err)
		}
	}()

	deadline := lastDead.Add(ShortTTL + time.Second)
	for {
		got := briefAll(mustGet(t, b, domain, "greeter"))
		if len(got) == 1 && got[0] == "greeter@v1(live)" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetService(greeter) %s after the last heartbeat of a %s TTL = %v, want only the live node", time.Since(lastDead), ShortTTL, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.expect(t, "update greeter@v1(live)")
}

func testWatchOrder(t *testing.T, b registry.Backend) {
	mustRegister(t, b, domain, svc("before", "v1", "x"), time.Minute)
	w := watch(t, b, domain, "")
	w.expect(t, "snapshot[before@v1(x)]")
	steps := []struct {
		do   func()
		want string
	}{
		{func() { mustRegister(t, b, domain, svc("greeter", "v1", "n1"), time.Minute) }, "create greeter@v1(n1)"},
		{func() { mustRegister(t, b, domain, svc("greeter", "v1", "n2"), time.Minute) }, "update greeter@v1(n1,n2)"},
		{func() { mustRegister(t, b, domain, svc("other", "", "o1"), time.Minute) }, "create other@(o1)"},
		{func() { mustDeregister(t, b, domain, svc("greeter", "v1", "n1")) }, "update greeter@v1(n2)"},
		{func() { mustDeregister(t, b, domain, svc("greeter", "v1", "n2")) }, "delete greeter@v1()"},
		{func() { mustDeregister(t, b, domain, &registry.Service{Name: "before", Version: "v1"}) }, "delete before@v1()"},
	}
	want := make([]string, len(steps))
	for i, s := range steps {
		s.do()
		want[i] = s.want
	}
	w.expect(t, want...)
}

func testWatchByName(t *testing.T, b registry.Backend) {
	mustRegister(t, b, domain, svc("greeter", "v1", "n1"), time.Minute)
	mustRegister(t, b, domain, svc("greeter.admin", "v1", "a1"), time.Minute)
	w := watch(t, b, domain, "greeter")
	w.expect(t, "snapshot[greeter@v1(n1)]")
	mustRegister(t, b, domain, svc("greeter.admin", "v1", "a2"), time.Minute)
	mustRegister(t, b, domain, svc("other", "v1", "o1"), time.Minute)
	mustRegister(t, b, domain, svc("greeter", "v2", "n2"), time.Minute)
	w.expect(t, "create greeter@v2(n2)")
}

func testWatchDomain(t *testing.T, b registry.Backend) {
	w := watch(t, b, "tenant-a", "")
	w.expect(t, "snapshot[]")
	mustRegister(t, b, "tenant-b", svc("greeter", "v1", "b1"), time.Minute)
	mustRegister(t, b, "tenant-a", svc("greeter", "v1", "a1"), time.Minute)
	w.expect(t, "create greeter@v1(a1)")
}

func testThousandServices(t *testing.T, b registry.Backend) {
	const n = 1000
	svcs := make([]*registry.Service, n)
	want := make([]string, n)
	for i := range n {
		svcs[i] = svc(fmt.Sprintf("svc-%04d", i), "v1", "n1")
		want[i] = fmt.Sprintf("svc-%04d@v1(n1)", i)
	}
	registerAll(t, b, domain, svcs)
	list, err := b.ListServices(t.Context(), domain)
	if err != nil {
		t.Fatalf("ListServices = %v, want nil", err)
	}
	if diff := cmp.Diff(want, briefAll(list)); diff != "" {
		t.Errorf("ListServices of %d services (-want +got):\n%s", n, diff)
	}
	if got := mustGet(t, b, domain, "svc-0500"); len(got) != 1 || got[0].Name != "svc-0500" {
		t.Errorf("GetService(svc-0500) = %v, want one version", briefAll(got))
	}
}
