package faulttest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"m3o.dev/pkg/mtls/mtlstest"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
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
		addr := faulttest.Address(t)
		addrs = append(addrs, addr)
		replicas = append(replicas, faulttest.StartProcess(t, "store", bins["store"], nil, append(corekittest.CertFlags(t, ca, "store"),
			"--address", addr, "--backend", "cockroach", "--dsn", pg.DSN())...))
	}
	store := storev1.NewStoreServiceClient(dial(t, ca, addrs[0]+","+addrs[1], "config", "store"))

	w := faulttest.Start(4, 25, func(ctx context.Context, key string, value []byte) error {
		_, err := store.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	})
	w.KillUnder(t, "one of two store replicas killed", replicas[0], 200, 400, func(ctx context.Context, key string) ([]byte, error) {
		resp, err := store.Read(ctx, &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	})
}

// TestProxyReplicaKilled runs two proxies, which a client reaches through
// one comma-separated address with round-robin, and kills one with
// SIGKILL under a tenant's writes: the writes go on through the other, and
// nothing acknowledged is lost. A proxy keeps nothing another needs.
func TestProxyReplicaKilled(t *testing.T) {
	pl := startPlatform(t, layout{proxy: 2})
	conn := pl.client(t)
	tenant := newTenant(t, conn)
	store := storev1.NewStoreServiceClient(conn)
	w := faulttest.Start(4, 25, storeWrites(store, tenant))
	w.KillUnder(t, "one of two proxies killed", pl.proxy[0], 200, 400, storeReads(store, tenant))
}

// TestBillingReplicaKilled runs two billing replicas and kills one with
// SIGKILL while sign-up checkouts are started on them, as auth starts
// them, and while a tenant writes through the proxy, which follows
// billing's statuses to gate payments: checkouts go on through the other
// replica and every acknowledged one reads back, and the tenant's writes
// never stop on billing's account.
func TestBillingReplicaKilled(t *testing.T) {
	pl := startPlatform(t, layout{billing: 2})
	conn := pl.client(t)
	tenant := newTenant(t, conn)
	store := storev1.NewStoreServiceClient(conn)
	writes := faulttest.Start(2, 25, storeWrites(store, tenant))
	billing := billingv1.NewBillingServiceClient(dial(t, pl.ca, pl.addr["billing"], "auth", "billing"))
	var co checkouts
	starts := faulttest.Start(2, 25, co.starts(billing))
	starts.WaitForAcks(t, 50)
	writes.WaitForAcks(t, 100)
	pl.billing[0].Kill9()
	killed := time.Now()
	starts.WaitForAcks(t, starts.Acks()+100)
	writes.WaitForAcks(t, writes.Acks()+200)
	starts.Stop()
	writes.Stop()

	lostCheckouts, lostWrites := starts.Lost(t, co.reads(billing)), writes.Lost(t, storeReads(store, tenant))
	t.Logf("one of two billing replicas killed: %d checkouts acknowledged, %d lost, first after the kill in %v, codes %v; %d tenant writes, %d lost, codes %v",
		starts.Acks(), lostCheckouts, starts.FirstAckAfter(killed).Sub(killed).Round(time.Millisecond), starts.Codes(),
		writes.Acks(), lostWrites, writes.Codes())
	if lostCheckouts+lostWrites > 0 {
		t.Errorf("lost when a billing replica died: %d acknowledged checkouts, %d acknowledged writes", lostCheckouts, lostWrites)
	}
	starts.CheckCodes(t, "a billing replica's death")
	writes.CheckCodes(t, "a billing replica's death")
}

// checkouts remembers the payment session each acknowledged checkout
// start returned. A start's email carries its key and sequence number, so
// a session read back says which start it was.
type checkouts struct {
	mu       sync.Mutex
	sessions map[string]string // key → session id of its newest start
}

func (co *checkouts) starts(billing billingv1.BillingServiceClient) faulttest.WriteFunc {
	return func(ctx context.Context, key string, value []byte) error {
		resp, err := billing.StartCheckout(ctx, &billingv1.StartCheckoutRequest{
			Email: checkoutEmail(key, value), IdempotencyKey: "fault-" + key + "-" + string(value),
		})
		if err == nil {
			co.mu.Lock()
			defer co.mu.Unlock()
			if co.sessions == nil {
				co.sessions = map[string]string{}
			}
			co.sessions[key] = resp.GetCheckout().GetId()
		}
		return err
	}
}

// reads returns, for a key, the sequence number in the email of the
// session its newest acknowledged start returned.
func (co *checkouts) reads(billing billingv1.BillingServiceClient) faulttest.ReadFunc {
	return func(ctx context.Context, key string) ([]byte, error) {
		co.mu.Lock()
		id := co.sessions[key]
		co.mu.Unlock()
		resp, err := billing.GetCheckout(ctx, &billingv1.GetCheckoutRequest{PaymentSessionId: id})
		if err != nil {
			return nil, err
		}
		local, _, _ := strings.Cut(resp.GetCheckout().GetEmail(), "@")
		return []byte(local[strings.LastIndexByte(local, '.')+1:]), nil
	}
}

// checkoutEmail is the email of key's start number seq.
func checkoutEmail(key string, seq []byte) string {
	return strings.NewReplacer("/", ".").Replace(key) + "." + string(seq) + "@example.com"
}
