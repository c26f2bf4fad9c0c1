package faulttest_test

import (
	"context"
	"testing"
	"time"

	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/faulttest"
	"m3o.dev/services/internal/pgtest"
)

// TestStoreReplicaKilled runs two replicas of the store service on one
// PostgreSQL, reached through one comma-separated address as every core
// service's peer flags take them, and kills one with SIGKILL under
// writes: the other takes every write, and nothing acknowledged is lost,
// which shows that the replicas keep no state of their own.
func TestStoreReplicaKilled(t *testing.T) {
	pg := pgtest.Start(t)
	bins := faulttest.Build(t, "../../cmd", "store")
	ca := mtlstest.NewCA(t)
	var replicas []*faulttest.Process
	var addrs []string
	for range 2 {
		addr := freeAddress(t)
		addrs = append(addrs, addr)
		replicas = append(replicas, faulttest.StartProcess(t, "store", bins["store"], nil, append(corekittest.CertFlags(t, ca, "store"),
			"--address", addr, "--backend", "cockroach", "--dsn", pg.DSN())...))
	}
	store := storev1.NewStoreServiceClient(dial(t, ca, addrs[0]+","+addrs[1], "config", "store"))

	w := faulttest.Start(4, 25, func(ctx context.Context, key string, value []byte) error {
		_, err := store.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	})
	w.WaitForAcks(t, 200)
	replicas[0].Kill9()
	killed := time.Now()
	w.WaitForAcks(t, w.Acks()+400)
	w.Stop()

	lost := w.Lost(t, func(ctx context.Context, key string) ([]byte, error) {
		resp, err := store.Read(ctx, &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	})
	t.Logf("one of two store replicas killed: %d writes acknowledged, %d lost; the first write after the kill acknowledged in %v; codes seen: %v",
		w.Acks(), lost, w.FirstAckAfter(killed).Sub(killed).Round(time.Millisecond), w.Codes())
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost when a replica died", lost)
	}
	w.CheckCodes(t, "a replica's death")
}
