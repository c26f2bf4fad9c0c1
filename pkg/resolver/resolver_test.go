package resolver_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"m3o.dev/pkg/resolver"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// fakeRegistry hands each Watch stream to the test, which feeds it events
// and breaks it by closing the channel.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer
	streams chan chan *registryv1.WatchResponse
}

func (f *fakeRegistry) Watch(req *registryv1.WatchRequest, stream registryv1.RegistryService_WatchServer) error {
	ch := make(chan *registryv1.WatchResponse)
	select {
	case f.streams <- ch:
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return status.Error(codes.Unavailable, "stream broken by the test")
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// start runs a fake registry over bufconn and a Resolver fed by it.
func start(t *testing.T) (*resolver.Resolver, *fakeRegistry) {
	t.Helper()
	fake := &fakeRegistry{streams: make(chan chan *registryv1.WatchResponse)}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	r := resolver.New(registryv1.NewRegistryServiceClient(conn), resolver.Options{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want context.Canceled", err)
		}
	})
	return r, fake
}

// nextStream waits for the Resolver to open a Watch.
func nextStream(t *testing.T, f *fakeRegistry) chan *registryv1.WatchResponse {
	t.Helper()
	select {
	case ch := <-f.streams:
		return ch
	case <-time.After(10 * time.Second):
		t.Fatal("resolver opened no watch")
		return nil
	}
}

func svc(name, version string, addrs ...string) *registryv1.Service {
	s := &registryv1.Service{Name: name, Version: version}
	for _, a := range addrs {
		s.Nodes = append(s.Nodes, &registryv1.Node{Id: a, Address: a})
	}
	return s
}

func event(typ registryv1.EventType, s *registryv1.Service) *registryv1.WatchResponse {
	return &registryv1.WatchResponse{Type: typ, Service: s}
}

func snapshot(ss ...*registryv1.Service) *registryv1.WatchResponse {
	return &registryv1.WatchResponse{Type: registryv1.EventType_EVENT_TYPE_SNAPSHOT, Snapshot: ss}
}

// barrier sends an event for an unrelated service and waits until the
// resolver shows it, which proves every earlier event was applied: the
// stream delivers in order.
func barrier(t *testing.T, r *resolver.Resolver, ch chan *registryv1.WatchResponse, name string) {
	t.Helper()
	ch <- event(registryv1.EventType_EVENT_TYPE_CREATE, svc(name, "", "barrier:1"))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok := r.Lookup(name); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("resolver never applied %s", name)
		}
	}
}

// addrs returns the addresses Pick yields over n calls.
func addrs(r *resolver.Resolver, name string, n int) []string {
	var out []string
	for range n {
		node, err := r.Pick(name)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		out = append(out, node.GetAddress())
	}
	return out
}

func TestEvents(t *testing.T) {
	r, fake := start(t)
	ch := nextStream(t, fake)
	ch <- snapshot(svc("greeter", "v1", "a:1"), svc("other", "", "o:1"))
	<-r.Ready()

	steps := []struct {
		name  string
		event *registryv1.WatchResponse
		want  []string
	}{
		{"create version", event(registryv1.EventType_EVENT_TYPE_CREATE, svc("greeter", "v2", "b:1")), []string{"a:1", "b:1"}},
		{"update nodes", event(registryv1.EventType_EVENT_TYPE_UPDATE, svc("greeter", "v1", "a:1", "a:2")), []string{"a:1", "a:2", "b:1"}},
		{"node expired", event(registryv1.EventType_EVENT_TYPE_UPDATE, svc("greeter", "v1", "a:2")), []string{"a:2", "b:1"}},
		{"delete version", event(registryv1.EventType_EVENT_TYPE_DELETE, svc("greeter", "v2")), []string{"a:2"}},
		{"delete last version", event(registryv1.EventType_EVENT_TYPE_DELETE, svc("greeter", "v1")), nil},
	}
	for i, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			ch <- step.event
			barrier(t, r, ch, "barrier-"+string(rune('a'+i)))
			var got []string
			if versions, ok := r.Lookup("greeter"); ok {
				for _, v := range versions {
					for _, n := range v.GetNodes() {
						got = append(got, n.GetAddress())
					}
				}
			}
			if diff := cmp.Diff(step.want, got); diff != "" {
				t.Errorf("Lookup(greeter) nodes (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := r.Pick("greeter"); !errors.Is(err, resolver.ErrNotFound) {
		t.Errorf("Pick(greeter) after its last version went = %v, want ErrNotFound", err)
	}
}

func TestPickRoundRobin(t *testing.T) {
	r, fake := start(t)
	ch := nextStream(t, fake)
	ch <- snapshot(svc("greeter", "v1", "a:1", "a:2"), svc("greeter", "v2", "b:1"))
	<-r.Ready()
	got := addrs(r, "greeter", 6)
	want := []string{"a:1", "a:2", "b:1", "a:1", "a:2", "b:1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Pick(greeter) x6 (-want +got):\n%s", diff)
	}
	if _, err := r.Pick("nobody"); !errors.Is(err, resolver.ErrNotFound) {
		t.Errorf("Pick(nobody) = %v, want ErrNotFound", err)
	}
}

// TestRecover breaks the stream, changes the registry meanwhile, and checks
// that the resolver kept answering and then took the new snapshot whole.
func TestRecover(t *testing.T) {
	r, fake := start(t)
	ch := nextStream(t, fake)
	ch <- snapshot(svc("greeter", "v1", "a:1", "a:2"), svc("gone", "", "g:1"))
	<-r.Ready()
	close(ch)

	if got := addrs(r, "greeter", 2); !cmp.Equal(got, []string{"a:1", "a:2"}) {
		t.Errorf("Pick(greeter) while the stream is broken = %v, want the cached nodes", got)
	}
	ch = nextStream(t, fake)
	ch <- snapshot(svc("greeter", "v1", "a:2"), svc("new", "", "n:1"))
	barrier(t, r, ch, "barrier")

	var got []string
	for _, s := range r.Services() {
		got = append(got, s.GetName())
	}
	if diff := cmp.Diff([]string{"barrier", "greeter", "new"}, got); diff != "" {
		t.Errorf("Services() after the new snapshot (-want +got):\n%s", diff)
	}
	if got := addrs(r, "greeter", 2); !cmp.Equal(got, []string{"a:2", "a:2"}) {
		t.Errorf("Pick(greeter) after the new snapshot = %v, want only a:2", got)
	}
}
