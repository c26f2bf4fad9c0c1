// Package registrytest is the conformance suite every registry.Backend
// passes: Run(t, newBackend) from a backend's own tests.
package registrytest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"m3o.dev/services/registry"
)

// ShortTTL is the TTL of the expiry tests: etcd grants no lease shorter than
// about two seconds with its default election timeout.
const ShortTTL = 2 * time.Second

// waitLimit bounds every wait for an event, only so that a broken backend
// fails the test instead of hanging it.
const waitLimit = 20 * time.Second

// NewBackend returns a fresh, empty backend for one test, cleaned up by t.
type NewBackend func(t *testing.T) registry.Backend

// Run runs the whole suite against backends made by newBackend.
func Run(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		run  func(*testing.T, registry.Backend)
	}{
		{"RegisterGet", testRegisterGet},
		{"RoundTrip", testRoundTrip},
		{"Versions", testVersions},
		{"Deregister", testDeregister},
		{"Domains", testDomains},
		{"Oversized", testOversized},
		{"Heartbeat", testHeartbeat},
		{"Expiry", testExpiry},
		{"WatchOrder", testWatchOrder},
		{"WatchByName", testWatchByName},
		{"WatchDomain", testWatchDomain},
		{"ThousandServices", testThousandServices},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newBackend(t))
		})
	}
}

// svc returns a service with one node per id.
func svc(name, version string, ids ...string) *registry.Service {
	s := &registry.Service{Name: name, Version: version}
	for i, id := range ids {
		s.Nodes = append(s.Nodes, registry.Node{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", 9000+i)})
	}
	return s
}

func mustRegister(t *testing.T, b registry.Backend, domain string, s *registry.Service, ttl time.Duration) {
	t.Helper()
	if err := b.Register(t.Context(), domain, s, ttl); err != nil {
		t.Fatalf("Register(%s, %s) = %v, want nil", domain, s.Name, err)
	}
}

func mustDeregister(t *testing.T, b registry.Backend, domain string, s *registry.Service) {
	t.Helper()
	if err := b.Deregister(t.Context(), domain, s); err != nil {
		t.Fatalf("Deregister(%s, %s) = %v, want nil", domain, s.Name, err)
	}
}

func mustGet(t *testing.T, b registry.Backend, domain, name string) []*registry.Service {
	t.Helper()
	got, err := b.GetService(t.Context(), domain, name)
	if err != nil {
		t.Fatalf("GetService(%s, %s) = %v, want nil", domain, name, err)
	}
	return got
}

func wantNotFound(t *testing.T, b registry.Backend, domain, name string) {
	t.Helper()
	got, err := b.GetService(t.Context(), domain, name)
	if !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("GetService(%s, %s) = %v, %v, want ErrNotFound", domain, name, got, err)
	}
}

// watcher collects one Watch call's events.
type watcher struct {
	events chan registry.Event
	errc   chan error
}

// watch starts a watch that lasts as long as the test.
func watch(t *testing.T, b registry.Backend, domain, name string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w := &watcher{events: make(chan registry.Event, 4096), errc: make(chan error, 1)}
	go func() {
		w.errc <- b.Watch(ctx, domain, name, func(ev registry.Event) error {
			w.events <- ev
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-w.errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch(%s, %q) ended with %v, want context.Canceled", domain, name, err)
		}
	})
	return w
}

// next returns the next event.
func (w *watcher) next(t *testing.T) registry.Event {
	t.Helper()
	select {
	case ev := <-w.events:
		return ev
	case <-time.After(waitLimit):
		t.Fatalf("no watch event after %s", waitLimit)
		return registry.Event{}
	}
}

// brief summarises an event for comparisons: its type, and the version and
// node ids it carries.
func brief(ev registry.Event) string {
	if ev.Type == registry.EventSnapshot {
		parts := make([]string, len(ev.Snapshot))
		for i, s := range ev.Snapshot {
			parts[i] = briefService(s)
		}
		return "snapshot[" + strings.Join(parts, " ") + "]"
	}
	return ev.Type.String() + " " + briefService(ev.Service)
}

func briefService(s *registry.Service) string {
	ids := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		ids[i] = n.ID
	}
	return s.Name + "@" + s.Version + "(" + strings.Join(ids, ",") + ")"
}

// expectEvents reads len(want) events and compares their summaries.
func (w *watcher) expect(t *testing.T, want ...string) {
	t.Helper()
	got := make([]string, 0, len(want))
	for range want {
		got = append(got, brief(w.next(t)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("watch events (-want +got):\n%s", diff)
	}
}

// registerAll registers many services from a few goroutines, as a fleet of
// nodes would.
func registerAll(t *testing.T, b registry.Backend, domain string, svcs []*registry.Service) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(svcs))
	work := make(chan *registry.Service)
	for range 8 {
		wg.Go(func() {
			for s := range work {
				if err := b.Register(t.Context(), domain, s, time.Minute); err != nil {
					errs <- fmt.Errorf("Register(%s) = %w", s.Name, err)
				}
			}
		})
	}
	for _, s := range svcs {
		work <- s
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
