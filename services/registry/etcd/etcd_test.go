package etcd_test

import (
	"crypto/rand"
	"fmt"
	"os"
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
	server, err = etcdembed.Start(etcdembed.Options{Dir: dir})
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
