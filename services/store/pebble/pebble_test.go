package pebble_test

import (
	"errors"
	"testing"
	"time"

	"m3o.dev/services/store"
	"m3o.dev/services/store/pebble"
	"m3o.dev/services/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Backend {
		return open(t, t.TempDir(), now)
	})
}

// open opens a Backend in dir and closes it when the test ends.
func open(t testing.TB, dir string, now func() time.Time) *pebble.Backend {
	t.Helper()
	b, err := pebble.Open(dir, pebble.Options{Now: now})
	if err != nil {
		t.Fatalf("Open(%s) error = %v", dir, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	})
	return b
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	clock := storetest.NewClock()
	tbl := store.Table{Database: "ns", Name: "t"}
	quota := store.PutOptions{QuotaBytes: 100}

	b, err := pebble.Open(dir, pebble.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	for _, k := range []string{"a", "b", "c"} {
		rec := store.Record{Key: k, Value: make([]byte, 29)} // 30 bytes each
		if _, err := b.Put(ctx, tbl, rec, quota); err != nil {
			t.Fatalf("Put(%s) error = %v", k, err)
		}
	}
	if err := b.Delete(ctx, tbl, "b", nil); err != nil {
		t.Fatalf("Delete(b) error = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}

	b = open(t, dir, clock.Now)
	if rec, err := b.Get(ctx, tbl, "c"); err != nil || rec.Version != 1 || len(rec.Value) != 29 {
		t.Errorf("Get(c) after reopen = %+v, %v, want version 1 with 29 bytes", rec, err)
	}
	// 60 bytes are stored; the reopened counter must know it.
	if _, err := b.Put(ctx, tbl, store.Record{Key: "d", Value: make([]byte, 40)}, quota); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Errorf("Put(41 bytes) at 60 of 100 after reopen = %v, want ErrQuotaExceeded", err)
	}
	if _, err := b.Put(ctx, tbl, store.Record{Key: "d", Value: make([]byte, 39)}, quota); err != nil {
		t.Errorf("Put(40 bytes) at 60 of 100 after reopen = %v, want nil", err)
	}
}
