package pebble_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"m3o.dev/services/store"
)

// BenchmarkDurableWrites measures acknowledged, fsynced writes per second
// with 16 concurrent writers of distinct keys, which is where group commit
// pays: one fsync acknowledges every writer waiting on it.
func BenchmarkDurableWrites(b *testing.B) {
	const writers = 16
	backend := open(b, b.TempDir(), nil)
	tbl := store.Table{Database: "bench", Name: "default"}
	value := make([]byte, 100)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				rec := store.Record{Key: fmt.Sprintf("k/%012d", i), Value: value}
				if _, err := backend.Put(b.Context(), tbl, rec, store.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatalf("Put() = %v", err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
}
