package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"m3o.dev/services/store"
)

func testExpiry(t *testing.T, e *env) {
	ctx := t.Context()
	short := store.Table{Database: "ns1", Name: "short"}
	expires := e.clock.Now().Add(time.Minute)
	e.putRecord(t, tbl, store.Record{Key: "ttl", Value: []byte("v"), ExpiresAt: expires})
	e.put(t, tbl, "forever", "v")
	e.putRecord(t, short, store.Record{Key: "k", Value: []byte("v"), ExpiresAt: expires})

	if got := e.get(t, tbl, "ttl").ExpiresAt; !got.Equal(expires) {
		t.Errorf("Get(ttl).ExpiresAt = %v, want %v", got, expires)
	}
	if got := e.get(t, tbl, "forever").ExpiresAt; !got.IsZero() {
		t.Errorf("Get(forever).ExpiresAt = %v, want zero", got)
	}

	e.clock.Advance(time.Minute) // expiry is exclusive: at expires the record is gone
	e.wantNotFound(t, tbl, "ttl")
	if diff := cmp.Diff([]string{"forever"}, e.keys(t, tbl, store.Query{Limit: 10})); diff != "" {
		t.Errorf("Scan() after expiry mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"forever"}, e.keys(t, tbl, store.Query{Suffix: "", Limit: 10, KeysOnly: true, Desc: true})); diff != "" {
		t.Errorf("Scan(keys only) after expiry mismatch (-want +got):\n%s", diff)
	}
	if err := e.b.Delete(ctx, tbl, "ttl", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete(ttl) after expiry = %v, want ErrNotFound", err)
	}
	tables, err := e.b.Tables(ctx, "ns1")
	if err != nil {
		t.Fatalf("Tables(ns1) error = %v", err)
	}
	if diff := cmp.Diff([]string{"default"}, tables); diff != "" {
		t.Errorf("Tables(ns1) after expiry mismatch (-want +got):\n%s", diff)
	}

	// An expired record counts as missing: create-only succeeds, afresh.
	v, err := e.b.Put(ctx, tbl, store.Record{Key: "ttl", Value: []byte("new")}, store.PutOptions{IfVersion: ptr(0)})
	if err != nil || v != 1 {
		t.Fatalf("Put(ttl, if_version 0) after expiry = %d, %v, want 1, nil", v, err)
	}
	if got := e.get(t, tbl, "ttl"); string(got.Value) != "new" || !got.ExpiresAt.IsZero() {
		t.Errorf("Get(ttl) after rewrite = %q expiring %v, want \"new\" never expiring", got.Value, got.ExpiresAt)
	}
}

func testSweep(t *testing.T, e *env) {
	ctx := t.Context()
	q := store.Table{Database: "quota", Name: "t"}
	opts := store.PutOptions{QuotaBytes: 100}
	expires := e.clock.Now().Add(time.Second)
	for _, k := range []string{"a", "b"} {
		rec := store.Record{Key: k, Value: []byte(strings.Repeat("v", 39)), ExpiresAt: expires} // 40 bytes
		if _, err := e.b.Put(ctx, q, rec, opts); err != nil {
			t.Fatalf("Put(%s) error = %v", k, err)
		}
	}
	e.put(t, tbl, "kept", "v")
	e.putRecord(t, tbl, store.Record{Key: "later", Value: []byte("v"), ExpiresAt: expires.Add(time.Hour)})
	if n, err := e.b.Sweep(ctx, 10); err != nil || n != 0 {
		t.Fatalf("Sweep() before expiry = %d, %v, want 0, nil", n, err)
	}

	e.clock.Advance(2 * time.Second)
	if n, err := e.b.Sweep(ctx, 1); err != nil || n != 1 {
		t.Fatalf("Sweep(limit 1) = %d, %v, want 1, nil", n, err)
	}
	if n, err := e.b.Sweep(ctx, 10); err != nil || n != 1 {
		t.Fatalf("Sweep(limit 10) = %d, %v, want 1, nil", n, err)
	}
	if n, err := e.b.Sweep(ctx, 10); err != nil || n != 0 {
		t.Fatalf("Sweep() when clean = %d, %v, want 0, nil", n, err)
	}
	e.get(t, tbl, "kept")
	e.get(t, tbl, "later")

	// The swept records no longer count against the quota.
	big := store.Record{Key: "c", Value: []byte(strings.Repeat("v", 99))}
	if _, err := e.b.Put(ctx, q, big, opts); err != nil {
		t.Errorf("Put(100 bytes) under a 100-byte quota after sweep = %v, want nil", err)
	}
}

func testQuota(t *testing.T, e *env) {
	ctx := t.Context()
	q := store.Table{Database: "quota", Name: "t"}
	other := store.Table{Database: "quota", Name: "other"}
	put := func(tb store.Table, key string, size, quota int) error {
		rec := store.Record{Key: key, Value: []byte(strings.Repeat("v", size-len(key)))}
		_, err := e.b.Put(ctx, tb, rec, store.PutOptions{QuotaBytes: int64(quota)})
		return err
	}
	steps := []struct {
		name  string
		table store.Table
		key   string
		size  int // bytes of key and value
		quota int
		want  error
	}{
		{"first record", q, "k1", 60, 100, nil},
		{"over quota", q, "k2", 60, 100, store.ErrQuotaExceeded},
		{"over quota in another table", other, "k2", 60, 100, store.ErrQuotaExceeded},
		{"up to quota", other, "k2", 40, 100, nil},
		{"grow past quota", q, "k1", 61, 100, store.ErrQuotaExceeded},
		{"shrink", q, "k1", 10, 100, nil},
		{"fits after shrink", q, "k3", 50, 100, nil},
		{"shrink while over a lowered quota", q, "k3", 49, 10, nil},
		{"same size while over a lowered quota", q, "k3", 49, 10, nil},
		{"no quota", q, "k4", 1000, 0, nil},
		{"another database", store.Table{Database: "quota2", Name: "t"}, "k1", 100, 100, nil},
	}
	for _, s := range steps {
		err := put(s.table, s.key, s.size, s.quota)
		if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Fatalf("step %q: Put(%s, %s, %d bytes, quota %d) = %v, want %v", s.name, s.table, s.key, s.size, s.quota, err, s.want)
		}
	}
	if got := e.keys(t, q, store.Query{Limit: 10}); !cmp.Equal(got, []string{"k1", "k3", "k4"}, cmpopts.EquateEmpty()) {
		t.Errorf("Scan(%s) after quota steps = %v, want [k1 k3 k4]", q, got)
	}
	// Deleting frees bytes: 10+49+40+1000 are stored; dropping k4 leaves 99.
	if err := e.b.Delete(ctx, q, "k4", nil); err != nil {
		t.Fatalf("Delete(k4) = %v", err)
	}
	if err := put(q, "k5", 2, 100); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Errorf("Put(k5, 2 bytes) at 99 of 100 = %v, want ErrQuotaExceeded", err)
	}
	if err := put(q, "z", 1, 100); err != nil {
		t.Errorf("Put(z, 1 byte) at 99 of 100 = %v, want nil", err)
	}
}
