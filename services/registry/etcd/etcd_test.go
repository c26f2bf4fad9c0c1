package etcd_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"m3o.dev/services/registry"
	"m3o.dev/services/registry/etcd"
	"m3o.dev/services/registry/etcdembed"
	"m3o.dev/services/registry/registrytest"
)

// server is one embedded etcd shared by the package's tests; each test gets
// its own key prefix, which is as good as its own server and much faster.
var server *etcdembed.Server

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "registry-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	server, err = etcdembed.Start(etcdembed.Options{Dir: dir, UnsafeNoFsync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer server.Close()
	return m.Run()
}

// newClient returns a client of the shared server, closed when t ends.
func newClient(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: server.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("clientv3.New = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newBackend returns a backend under a prefix of its own.
func newBackend(t testing.TB, c *clientv3.Client) *etcd.Backend {
	t.Helper()
	b, err := etcd.New(etcd.Options{Client: c, Prefix: "/test/" + rand.Text() + "/"})
	if err != nil {
		t.Fatalf("etcd.New = %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	c := newClient(t)
	registrytest.Run(t, func(t *testing.T) registry.Backend { return newBackend(t, c) })
}

func node(name string, id string) *registry.Service {
	return &registry.Service{Name: name, Version: "v1", Nodes: []registry.Node{{ID: id, Address: "127.0.0.1:9000"}}}
}

// TestHeartbeatAfterLostLease revokes a node's lease behind the backend's
// back, as when it expired during an outage: the next heartbeat must write
// the node again under a new lease instead of failing from then on.
func TestHeartbeatAfterLostLease(t *testing.T) {
	c := newClient(t)
	b := newBackend(t, c)
	ctx := t.Context()
	if err := b.Register(ctx, "tenant-a", node("greeter", "n1"), time.Minute); err != nil {
		t.Fatalf("Register = %v", err)
	}
	leases, err := c.Leases(ctx)
	if err != nil {
		t.Fatalf("Leases = %v", err)
	}
	for _, l := range leases.Leases {
		if _, err := c.Revoke(ctx, l.ID); err != nil {
			t.Fatalf("Revoke = %v", err)
		}
	}
	if got, err := b.GetService(ctx, "tenant-a", "greeter"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("GetService after revoking its lease = %v, %v, want ErrNotFound", got, err)
	}
	if err := b.Register(ctx, "tenant-a", node("greeter", "n1"), time.Minute); err != nil {
		t.Fatalf("Register after the lease was lost = %v, want nil", err)
	}
	if got, err := b.GetService(ctx, "tenant-a", "greeter"); err != nil || len(got) != 1 {
		t.Fatalf("GetService after re-registering = %v, %v, want the node back", got, err)
	}
}

// TestStorageLimit registers a node within the registry's own 1 MiB limit
// whose JSON record, escaped, would not fit etcd's request limit.
func TestStorageLimit(t *testing.T) {
	b := newBackend(t, newClient(t))
	s := node("greeter", "n1")
	s.Nodes[0].Metadata = map[string]string{"blob": strings.Repeat("\x01", registry.MaxRegistrationBytes-100)}
	err := b.Register(t.Context(), "tenant-a", s, time.Minute)
	if !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("Register(escaped record over etcd's limit) = %v, want ErrInvalid", err)
	}
}
