package registryserver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"m3o.dev/pkg/resolver"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/registry/etcd"
	"m3o.dev/services/registry/etcdembed"
)

// startEtcd starts an embedded etcd in dir, on the given URLs when they are
// set, and stops it when the test ends unless the test stopped it first.
func startEtcd(t testing.TB, dir, clientURL, peerURL string) *etcdembed.Server {
	t.Helper()
	srv, err := etcdembed.Start(etcdembed.Options{Dir: dir, ClientURL: clientURL, PeerURL: peerURL})
	if err != nil {
		t.Fatalf("etcdembed.Start = %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// etcdBackend returns a client of srv and a backend over it under prefix.
func etcdBackend(t testing.TB, srv *etcdembed.Server, prefix string) (*clientv3.Client, *etcd.Backend) {
	t.Helper()
	client, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("clientv3.New = %v", err)
	}
	t.Cleanup(func() { client.Close() })
	b, err := etcd.New(etcd.Options{Client: client, Prefix: prefix, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("etcd.New = %v", err)
	}
	return client, b
}

// startResolver feeds a resolver of the micro domain until the test ends.
func startResolver(t testing.TB, client registryv1.RegistryServiceClient) *resolver.Resolver {
	t.Helper()
	r := resolver.New(client, resolver.Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("resolver Run = %v, want context.Canceled", err)
		}
	})
	select {
	case <-r.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("resolver got no snapshot")
	}
	return r
}
