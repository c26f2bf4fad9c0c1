// Package storetest is the conformance suite every store.Backend passes.
//
// A backend's test calls Run with a function that opens a fresh, empty
// backend on an injected clock:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Backend {
//			return memory.New(now)
//		})
//	}
//
// The suite drives expiry by moving that clock, so it never sleeps.
package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"m3o.dev/services/store"
)

// NewBackend opens a fresh, empty backend that reads the time from now. It
// fails t when it cannot, and registers the backend's Close with t.Cleanup.
type NewBackend func(t *testing.T, now func() time.Time) store.Backend

// Run runs every conformance test against backends made by newBackend, each
// test on a backend of its own.
func Run(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"WriteReadDelete", testWriteReadDelete},
		{"CompareAndSet", testCompareAndSet},
		{"DeleteIfVersion", testDeleteIfVersion},
		{"Metadata", testMetadata},
		{"BinaryValues", testBinaryValues},
		{"NonASCIIKeys", testNonASCIIKeys},
		{"SizeLimits", testSizeLimits},
		{"Scan", testScan},
		{"Paging", testPaging},
		{"Expiry", testExpiry},
		{"Sweep", testSweep},
		{"Quota", testQuota},
		{"Isolation", testIsolation},
		{"DatabasesAndTables", testDatabasesAndTables},
		{"ConcurrentWrites", testConcurrentWrites},
		{"ConcurrentCompareAndSet", testConcurrentCompareAndSet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			tt.run(t, &env{b: newBackend(t, clock.Now), clock: clock})
		})
	}
}

// Clock is a manual clock for driving expiry in tests. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to a fixed instant years ahead of the real
// time, so that a backend reading the real clock instead fails the expiry
// tests. The instant is whole microseconds, the precision backends keep.
func NewClock() *Clock {
	return &Clock{now: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is what one conformance test works on.
type env struct {
	b     store.Backend
	clock *Clock
}

// put stores value under key in tbl with no conditions and returns the new
// version, failing t on error.
func (e *env) put(t *testing.T, tbl store.Table, key, value string) uint64 {
	t.Helper()
	return e.putRecord(t, tbl, store.Record{Key: key, Value: []byte(value)})
}

// putRecord stores rec with no conditions and returns the new version,
// failing t on error.
func (e *env) putRecord(t *testing.T, tbl store.Table, rec store.Record) uint64 {
	t.Helper()
	v, err := e.b.Put(t.Context(), tbl, rec, store.PutOptions{})
	if err != nil {
		t.Fatalf("Put(%s, %q) error = %v, want nil", tbl, rec.Key, err)
	}
	return v
}

// get reads key from tbl, failing t on error.
func (e *env) get(t *testing.T, tbl store.Table, key string) store.Record {
	t.Helper()
	rec, err := e.b.Get(t.Context(), tbl, key)
	if err != nil {
		t.Fatalf("Get(%s, %q) error = %v, want nil", tbl, key, err)
	}
	return rec
}

// wantNotFound fails t unless key is absent from tbl.
func (e *env) wantNotFound(t *testing.T, tbl store.Table, key string) {
	t.Helper()
	if rec, err := e.b.Get(t.Context(), tbl, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%s, %q) = %+v, %v, want ErrNotFound", tbl, key, rec, err)
	}
}

// keys scans tbl with q and returns the keys found, failing t on error.
func (e *env) keys(t *testing.T, tbl store.Table, q store.Query) []string {
	t.Helper()
	page, err := e.b.Scan(t.Context(), tbl, q)
	if err != nil {
		t.Fatalf("Scan(%s, %+v) error = %v, want nil", tbl, q, err)
	}
	return keysOf(page.Records)
}

// keysOf returns the keys of recs in order.
func keysOf(recs []store.Record) []string {
	keys := make([]string, 0, len(recs))
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	return keys
}

// conflictVersion returns the current version carried by a conflict error,
// and false when err is not one.
func conflictVersion(err error) (uint64, bool) {
	var c *store.ConflictError
	if !errors.As(err, &c) || !errors.Is(err, store.ErrConflict) {
		return 0, false
	}
	return c.Current, true
}

// ptr returns a pointer to v, for optional versions.
func ptr(v uint64) *uint64 { return &v }
