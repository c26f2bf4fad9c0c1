package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"m3o.dev/services/store"
)

var tbl = store.Table{Database: "ns1", Name: "default"}

func testWriteReadDelete(t *testing.T, e *env) {
	ctx := t.Context()
	if v := e.put(t, tbl, "k", "one"); v != 1 {
		t.Errorf("Put(k) first version = %d, want 1", v)
	}
	if v := e.put(t, tbl, "k", "two"); v != 2 {
		t.Errorf("Put(k) second version = %d, want 2", v)
	}
	got := e.get(t, tbl, "k")
	want := store.Record{Key: "k", Value: []byte("two"), Version: 2}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Get(k) mismatch (-want +got):\n%s", diff)
	}
	if err := e.b.Delete(ctx, tbl, "k", nil); err != nil {
		t.Fatalf("Delete(k) = %v, want nil", err)
	}
	e.wantNotFound(t, tbl, "k")
	if err := e.b.Delete(ctx, tbl, "k", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete(k) again = %v, want ErrNotFound", err)
	}
	// A key that is created again starts its versions afresh.
	if v := e.put(t, tbl, "k", "three"); v != 1 {
		t.Errorf("Put(k) after delete version = %d, want 1", v)
	}
}

func testCompareAndSet(t *testing.T, e *env) {
	tests := []struct {
		name      string
		writes    int // unconditional writes before the compare-and-set
		ifVersion *uint64
		want      uint64 // version written, or the current version on conflict
		conflict  bool
	}{
		{name: "create only, missing", writes: 0, ifVersion: ptr(0), want: 1},
		{name: "create only, exists", writes: 2, ifVersion: ptr(0), want: 2, conflict: true},
		{name: "match", writes: 2, ifVersion: ptr(2), want: 3},
		{name: "stale", writes: 2, ifVersion: ptr(1), want: 2, conflict: true},
		{name: "ahead", writes: 2, ifVersion: ptr(7), want: 2, conflict: true},
		{name: "version on missing", writes: 0, ifVersion: ptr(3), want: 0, conflict: true},
		{name: "unconditional", writes: 2, ifVersion: nil, want: 3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("cas-%d", i)
			for range tt.writes {
				e.put(t, tbl, key, "before")
			}
			rec := store.Record{Key: key, Value: []byte("after")}
			v, err := e.b.Put(t.Context(), tbl, rec, store.PutOptions{IfVersion: tt.ifVersion})
			if !tt.conflict {
				if err != nil || v != tt.want {
					t.Fatalf("Put(%s) = %d, %v, want %d, nil", key, v, err, tt.want)
				}
				return
			}
			if cur, ok := conflictVersion(err); !ok || cur != tt.want {
				t.Fatalf("Put(%s) = %d, %v, want conflict at version %d", key, v, err, tt.want)
			}
			if tt.writes == 0 {
				e.wantNotFound(t, tbl, key)
				return
			}
			if got := e.get(t, tbl, key); string(got.Value) != "before" || got.Version != tt.want {
				t.Errorf("Get(%s) after conflict = %q v%d, want \"before\" v%d", key, got.Value, got.Version, tt.want)
			}
		})
	}
}

func testDeleteIfVersion(t *testing.T, e *env) {
	tests := []struct {
		name      string
		writes    int
		ifVersion *uint64
		want      error  // nil, store.ErrNotFound or store.ErrConflict
		current   uint64 // the conflict's version
	}{
		{name: "match", writes: 2, ifVersion: ptr(2)},
		{name: "unconditional", writes: 1},
		{name: "stale", writes: 2, ifVersion: ptr(1), want: store.ErrConflict, current: 2},
		{name: "zero on existing", writes: 1, ifVersion: ptr(0), want: store.ErrConflict, current: 1},
		{name: "missing", writes: 0, want: store.ErrNotFound},
		{name: "missing with version", writes: 0, ifVersion: ptr(1), want: store.ErrNotFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("del-%d", i)
			for range tt.writes {
				e.put(t, tbl, key, "v")
			}
			err := e.b.Delete(t.Context(), tbl, key, tt.ifVersion)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Delete(%s) = %v, want nil", key, err)
			case tt.want == store.ErrConflict:
				if cur, ok := conflictVersion(err); !ok || cur != tt.current {
					t.Fatalf("Delete(%s) = %v, want conflict at version %d", key, err, tt.current)
				}
				e.get(t, tbl, key) // still there
				return
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Delete(%s) = %v, want %v", key, err, tt.want)
			}
			e.wantNotFound(t, tbl, key)
		})
	}
}

func testMetadata(t *testing.T, e *env) {
	md := map[string]string{
		"content-type": "application/json",
		"ünïcødé":      "日本語 ✓",
		"empty":        "",
		"nul":          "a\x00b",
	}
	e.putRecord(t, tbl, store.Record{Key: "m", Value: []byte("x"), Metadata: md})
	if diff := cmp.Diff(md, e.get(t, tbl, "m").Metadata); diff != "" {
		t.Errorf("Get(m).Metadata mismatch (-want +got):\n%s", diff)
	}
	page, err := e.b.Scan(t.Context(), tbl, store.Query{Limit: 10})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("Scan() = %+v, %v, want one record", page, err)
	}
	if diff := cmp.Diff(md, page.Records[0].Metadata); diff != "" {
		t.Errorf("Scan().Records[0].Metadata mismatch (-want +got):\n%s", diff)
	}
	// A write replaces the metadata as a whole.
	e.put(t, tbl, "m", "y")
	if got := e.get(t, tbl, "m").Metadata; len(got) != 0 {
		t.Errorf("Get(m).Metadata after plain write = %v, want empty", got)
	}
}

func testBinaryValues(t *testing.T, e *env) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name  string
		value []byte
	}{
		{"empty", nil},
		{"nul", []byte{0}},
		{"nuls inside", []byte("a\x00\x00b\x00")},
		{"every byte", all},
		{"invalid utf-8", []byte{0xff, 0xfe, 0xc0, 0x80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.putRecord(t, tbl, store.Record{Key: tt.name, Value: tt.value})
			if got := e.get(t, tbl, tt.name).Value; !bytes.Equal(got, tt.value) {
				t.Errorf("Get(%q).Value = %x, want %x", tt.name, got, tt.value)
			}
		})
	}
}

func testNonASCIIKeys(t *testing.T, e *env) {
	keys := []string{"ключ", "日本語", "😀/smile", "ü", "e\u0301", "z"}
	for _, k := range keys {
		e.put(t, tbl, k, "v:"+k)
	}
	for _, k := range keys {
		if got := e.get(t, tbl, k); string(got.Value) != "v:"+k {
			t.Errorf("Get(%q).Value = %q, want %q", k, got.Value, "v:"+k)
		}
	}
	// Keys sort by their UTF-8 bytes, not by any collation.
	want := []string{"e\u0301", "z", "ü", "ключ", "日本語", "😀/smile"}
	if diff := cmp.Diff(want, e.keys(t, tbl, store.Query{Limit: 100})); diff != "" {
		t.Errorf("Scan() keys mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"😀/smile"}, e.keys(t, tbl, store.Query{Prefix: "😀", Limit: 100})); diff != "" {
		t.Errorf("Scan(prefix 😀) keys mismatch (-want +got):\n%s", diff)
	}
}

func testSizeLimits(t *testing.T, e *env) {
	// The Service rejects anything larger; a backend must keep these exactly.
	value := bytes.Repeat([]byte{0, 1, 2, 0xff}, (1<<20)/4)
	key := strings.Repeat("k", 510) + "é" // 512 bytes of UTF-8
	md := map[string]string{}
	for i := range 32 {
		md[fmt.Sprintf("key-%02d", i)] = strings.Repeat("v", 4096/32-6)
	}
	e.putRecord(t, tbl, store.Record{Key: key, Value: value, Metadata: md})
	got := e.get(t, tbl, key)
	if len(got.Key) != 512 || got.Key != key {
		t.Errorf("Get(512-byte key).Key has %d bytes, want 512", len(got.Key))
	}
	if !bytes.Equal(got.Value, value) {
		t.Errorf("Get(512-byte key).Value has %d bytes, want the 1 MiB written", len(got.Value))
	}
	if diff := cmp.Diff(md, got.Metadata); diff != "" {
		t.Errorf("Get(512-byte key).Metadata mismatch (-want +got):\n%s", diff)
	}
}
