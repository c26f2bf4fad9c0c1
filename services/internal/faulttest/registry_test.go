package faulttest_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/faulttest"
)

// listingTTL is how long a core service stays listed without a heartbeat
// (corekit's listing TTL).
const listingTTL = 15 * time.Second

// TestRegistryKilled kills the registry, and the etcd embedded in it, with
// SIGKILL while writers use a store that lists itself there. The writes
// are not affected; after the registry starts again on the same data the
// store is listed, and still is one TTL later, which only its heartbeats
// to the new registry keep up.
func TestRegistryKilled(t *testing.T) {
	bins := faulttest.Build(t, "../../cmd", "store", "registry")
	ca := mtlstest.NewCA(t)
	regAddr := faulttest.Address(t)
	registry := faulttest.StartProcess(t, "registry", bins["registry"], nil, append(corekittest.CertFlags(t, ca, "registry"),
		"--address", regAddr, "--embedded-etcd-dir", filepath.Join(t.TempDir(), "etcd"))...)
	storeAddr := faulttest.Address(t)
	faulttest.StartProcess(t, "store", bins["store"], nil, append(corekittest.CertFlags(t, ca, "store"),
		"--address", storeAddr, "--backend", "pebble", "--data-dir", filepath.Join(t.TempDir(), "store"), "--registry-address", regAddr)...)
	store := storev1.NewStoreServiceClient(dial(t, ca, storeAddr, "config", "store"))
	reg := registryv1.NewRegistryServiceClient(dial(t, ca, regAddr, "router", "registry"))
	waitListed(t, reg, "store")

	w := faulttest.Start(4, 25, func(ctx context.Context, key string, value []byte) error {
		_, err := store.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	})
	w.WaitForAcks(t, 200)
	registry.Kill9()
	w.WaitForAcks(t, w.Acks()+200) // while the registry is away
	registry.Start()
	back := time.Now()
	listed := waitListed(t, reg, "store")
	time.Sleep(listingTTL + time.Second)
	stillListed := waitListed(t, reg, "store")
	w.Stop()

	lost := w.Lost(t, func(ctx context.Context, key string) ([]byte, error) {
		resp, err := store.Read(ctx, &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	})
	t.Logf("registry and its etcd killed: %d writes acknowledged, %d lost, write codes %v; the store listed %v after the registry was back, and %v after one TTL more",
		w.Acks(), lost, w.Codes(), listed.Sub(back).Round(time.Millisecond), stillListed.Sub(back).Round(time.Millisecond))
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost while the registry was away", lost)
	}
	w.CheckCodes(t, "the registry's absence")
}

// dial connects to addr as the core service client, expecting server.
func dial(t *testing.T, ca *mtls.CA, addr, client, server string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(t, ca, "micro", client), mtls.Identity{Namespace: "micro", Service: server})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitListed waits until the registry lists a node of the core service
// name, and returns when it did; two minutes without is a registration
// that did not come back.
func waitListed(t *testing.T, reg registryv1.RegistryServiceClient, name string) time.Time {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		resp, err := reg.GetService(ctx, &registryv1.GetServiceRequest{Name: name, Domain: "micro"})
		cancel()
		if err == nil && len(resp.GetServices()) > 0 && len(resp.GetServices()[0].GetNodes()) > 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listed 2 minutes on: %v", name, errors.Join(err, errors.New("no node")))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
