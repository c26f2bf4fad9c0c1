// Package faulttest drives writes through the platform while a test
// injects a fault, and checks afterwards that nothing acknowledged was
// lost: the fault suite's writers and their accounting.
package faulttest

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
)

// WriteFunc writes value under key; ReadFunc reads key's value back.
type (
	WriteFunc func(ctx context.Context, key string, value []byte) error
	ReadFunc  func(ctx context.Context, key string) ([]byte, error)
)

// writers overwrite a set of keys each, one write at a time, with values
// that are increasing sequence numbers, and remember the newest number
// acknowledged for every key: a value read back that is older is a lost
// write.
type Writers struct {
	write  WriteFunc
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	acked    map[string]int
	ackTimes []time.Time
	seen     map[codes.Code]int
}

// Start starts n writers over keys keys each, until Stop.
func Start(n, keys int, write WriteFunc) *Writers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writers{write: write, cancel: cancel, acked: map[string]int{}, seen: map[codes.Code]int{}}
	for c := range n {
		w.wg.Go(func() { w.run(ctx, c, keys) })
	}
	return w
}

// run overwrites writer c's keys in turn until ctx ends.
func (w *Writers) run(ctx context.Context, c, keys int) {
	for seq := 1; ctx.Err() == nil; seq++ {
		key := fmt.Sprintf("fault/w%d/%03d", c, seq%keys)
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.write(callCtx, key, []byte(strconv.Itoa(seq)))
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

func (w *Writers) record(key string, seq int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.seen[status.Code(err)]++
		return
	}
	w.acked[key] = seq
	w.ackTimes = append(w.ackTimes, time.Now())
}

// Acks is how many writes were acknowledged.
func (w *Writers) Acks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ackTimes)
}

// WaitForAcks waits until n writes were acknowledged in all; two minutes
// without them is a platform that did not recover.
func (w *Writers) WaitForAcks(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for w.Acks() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes acknowledged in 2 minutes, want %d; codes seen: %v", w.Acks(), n, w.Codes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop stops the writers and waits for them.
func (w *Writers) Stop() {
	w.cancel()
	w.wg.Wait()
}

// FirstAckAfter is when the first write after t was acknowledged.
func (w *Writers) FirstAckAfter(t time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.ackTimes, t, func(a, b time.Time) int { return a.Compare(b) })
	if i == len(w.ackTimes) {
		return t
	}
	return w.ackTimes[i]
}

// Codes are the error codes writes failed with, and how often.
func (w *Writers) Codes() map[codes.Code]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.seen)
}

// Lost reads every key back, after Stop, and counts those whose value is
// older than the newest acknowledged.
func (w *Writers) Lost(t testing.TB, read ReadFunc) int {
	t.Helper()
	lost := 0
	for key, seq := range w.acked {
		value, err := read(t.Context(), key)
		if err != nil {
			t.Fatalf("read %s back = %v", key, err)
		}
		if got, _ := strconv.Atoi(string(value)); got < seq {
			lost++
		}
	}
	return lost
}

// CheckCodes fails the test for every code a write failed with other than
// Unavailable or DeadlineExceeded, the codes of a platform that is away:
// never Internal or a wrong answer.
func (w *Writers) CheckCodes(t testing.TB, fault string) {
	t.Helper()
	for code := range w.Codes() {
		if code != codes.Unavailable && code != codes.DeadlineExceeded {
			t.Errorf("a write failed with %v during %s, want only Unavailable or DeadlineExceeded", code, fault)
		}
	}
}

// KillUnder kills victim with SIGKILL once before writes are acknowledged,
// waits for after more, stops the writers and reads every key back. It
// fails the test for an acknowledged write lost or a failure other than
// Unavailable or DeadlineExceeded, and logs the figures of fault.
func (w *Writers) KillUnder(t testing.TB, fault string, victim *Process, before, after int, read ReadFunc) {
	t.Helper()
	w.WaitForAcks(t, before)
	victim.Kill9()
	killed := time.Now()
	w.WaitForAcks(t, w.Acks()+after)
	w.Stop()
	lost := w.Lost(t, read)
	t.Logf("%s: %d writes acknowledged, %d lost; the first write after the kill acknowledged in %v; codes seen: %v",
		fault, w.Acks(), lost, w.FirstAckAfter(killed).Sub(killed).Round(time.Millisecond), w.Codes())
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost when %s", lost, fault)
	}
	w.CheckCodes(t, fault)
}
