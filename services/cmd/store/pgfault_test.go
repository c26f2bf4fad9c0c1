package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/pgtest"
)

// TestPostgresRestart restarts the database under the store service
// (a fast shutdown, then a start) while writers overwrite their keys.
// Nothing acknowledged may be lost, writes must succeed again once the
// database is back, and a failed write says Unavailable or
// DeadlineExceeded, never Internal. The time recovery took is reported,
// not asserted: the machine is shared.
func TestPostgresRestart(t *testing.T) {
	pg := pgtest.Start(t)
	ca := mtlstest.NewCA(t)
	args := append(corekittest.CertFlags(t, ca, "store"), "--address", "127.0.0.1:0", "--backend", "cockroach", "--dsn", pg.DSN())
	p := startStore(t, buildStore(t), args)
	client := dial(t, p.address, mtlstest.Bundle(t, ca, "micro", "config"))

	w := startWriters(client, 4, 25)
	w.waitForAcks(t, 200)
	pg.StopFast()
	pg.StartAgain()
	back := time.Now()
	w.waitForAcks(t, w.acks()+200)
	w.stop()

	lost := w.lost(t, client)
	t.Logf("PostgreSQL restart: %d writes acknowledged, %d lost; writes succeeded again %v after the database was back; codes seen: %v",
		w.acks(), lost, w.firstAckAfter(back).Sub(back).Round(time.Millisecond), w.codes())
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost across the restart", lost)
	}
	for code := range w.codes() {
		if code != codes.Unavailable && code != codes.DeadlineExceeded {
			t.Errorf("a write failed with %v during the restart, want only Unavailable or DeadlineExceeded", code)
		}
	}
}

// writers overwrite a set of keys each, one write at a time, with values
// that are increasing sequence numbers, and remember the newest number
// acknowledged for every key: a value read back that is older is a lost
// write.
type writers struct {
	client storev1.StoreServiceClient
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	acked    map[string]int
	ackTimes []time.Time
	seen     map[codes.Code]int
}

// startWriters starts n writers over keys keys each.
func startWriters(client storev1.StoreServiceClient, n, keys int) *writers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writers{client: client, cancel: cancel, acked: map[string]int{}, seen: map[codes.Code]int{}}
	for c := range n {
		w.wg.Go(func() { w.write(ctx, c, keys) })
	}
	return w
}

// write overwrites writer c's keys in turn until ctx ends.
func (w *writers) write(ctx context.Context, c, keys int) {
	for seq := 1; ctx.Err() == nil; seq++ {
		key := fmt.Sprintf("fault/w%d/%03d", c, seq%keys)
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.client.Write(callCtx, &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: []byte(strconv.Itoa(seq))}})
		cancel()
		if ctx.Err() != nil {
			return // stopped: the last write's outcome does not count
		}
		w.record(key, seq, err)
		if err != nil {
			time.Sleep(20 * time.Millisecond) // the database is away: do not spin
		}
	}
}

func (w *writers) record(key string, seq int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.seen[status.Code(err)]++
		return
	}
	w.acked[key] = seq
	w.ackTimes = append(w.ackTimes, time.Now())
}

func (w *writers) acks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ackTimes)
}

// waitForAcks waits until n writes were acknowledged in all; two minutes
// without them is a platform that did not recover.
func (w *writers) waitForAcks(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for w.acks() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes acknowledged in 2 minutes, want %d; codes seen: %v", w.acks(), n, w.codes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *writers) stop() {
	w.cancel()
	w.wg.Wait()
}

// firstAckAfter is when the first write after t was acknowledged.
func (w *writers) firstAckAfter(t time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.ackTimes, t, func(a, b time.Time) int { return a.Compare(b) })
	if i == len(w.ackTimes) {
		return t
	}
	return w.ackTimes[i]
}

// codes are the error codes writes failed with, and how often.
func (w *writers) codes() map[codes.Code]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.seen)
}

// lost reads every key back and counts those older than acknowledged.
func (w *writers) lost(t *testing.T, client storev1.StoreServiceClient) int {
	t.Helper()
	lost := 0
	for key, seq := range w.acked {
		resp, err := client.Read(t.Context(), &storev1.ReadRequest{Key: key})
		if err != nil {
			t.Fatalf("Read(%s) = %v", key, err)
		}
		if got, _ := strconv.Atoi(string(resp.GetRecords()[0].GetValue())); got < seq {
			lost++
		}
	}
	return lost
}
