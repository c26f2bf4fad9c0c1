package store_test

import (
	"fmt"
	"testing"
	"time"

	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/storetest"
)

func TestSweepAll(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock()
	b := memory.New(clock.Now)
	tbl := store.Table{Database: "ns", Name: "t"}
	const expiring = 2*store.SweepBatch + 7 // three batches, the last one short
	for i := range expiring + 3 {
		rec := store.Record{Key: fmt.Sprintf("k%04d", i), ExpiresAt: clock.Now().Add(time.Minute)}
		if i >= expiring {
			rec.ExpiresAt = time.Time{}
		}
		if _, err := b.Put(ctx, tbl, rec, store.PutOptions{}); err != nil {
			t.Fatalf("Put(%s) = %v", rec.Key, err)
		}
	}
	clock.Advance(time.Hour)
	if n, err := store.SweepAll(ctx, b); err != nil || n != expiring {
		t.Errorf("SweepAll() = %d, %v, want %d, nil", n, err, expiring)
	}
	if n, err := b.Sweep(ctx, store.SweepBatch); err != nil || n != 0 {
		t.Errorf("Sweep() after SweepAll = %d, %v, want 0, nil", n, err)
	}
	page, err := b.Scan(ctx, tbl, store.Query{Limit: 100})
	if err != nil || len(page.Records) != 3 {
		t.Errorf("Scan() after SweepAll = %d records, %v, want the 3 that never expire", len(page.Records), err)
	}
}
