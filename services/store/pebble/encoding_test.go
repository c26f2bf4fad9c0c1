package pebble

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"m3o.dev/services/store"
)

func TestRecordKeyOrder(t *testing.T) {
	// Each pair is in (database, table, key) order; the encoding must keep it.
	type loc struct {
		db, table, key string
	}
	tests := []struct {
		name      string
		low, high loc
	}{
		{"database prefix", loc{"a", "t", "z"}, loc{"ab", "t", "a"}},
		{"database with nul", loc{"a", "t", "z"}, loc{"a\x00", "t", "a"}},
		{"nul before other bytes", loc{"a\x00", "t", "z"}, loc{"a\x01", "t", "a"}},
		{"table prefix", loc{"ns", "t", "zz"}, loc{"ns", "tt", "a"}},
		{"table suffix digits", loc{"ns1", "t", "k"}, loc{"ns10", "t", "k"}},
		{"key prefix", loc{"ns", "t", "a"}, loc{"ns", "t", "a\x00"}},
		{"key bytes", loc{"ns", "t", "a\x00z"}, loc{"ns", "t", "a\x01"}},
		{"utf-8 bytes", loc{"ns", "t", "z"}, loc{"ns", "t", "é"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := recordKey(store.Table{Database: tt.low.db, Name: tt.low.table}, tt.low.key)
			hi := recordKey(store.Table{Database: tt.high.db, Name: tt.high.table}, tt.high.key)
			if bytes.Compare(lo, hi) >= 0 {
				t.Errorf("recordKey(%q) = %x, not below recordKey(%q) = %x", tt.low, lo, tt.high, hi)
			}
		})
	}
}

func TestParseRecordKey(t *testing.T) {
	tests := []struct {
		table store.Table
		key   string
	}{
		{store.Table{Database: "ns", Name: "t"}, "k"},
		{store.Table{Database: "a\x00b", Name: "\x00"}, "\x00\x01\xff"},
		{store.Table{Database: "", Name: ""}, ""},
	}
	for _, tt := range tests {
		table, key, err := parseRecordKey(recordKey(tt.table, tt.key))
		if err != nil || table != tt.table || key != tt.key {
			t.Errorf("parseRecordKey(recordKey(%q, %q)) = %q, %q, %v, want the same, nil", tt.table, tt.key, table, key, err)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := encodeRecord(store.Record{Version: 3, ExpiresAt: time.Unix(5, 0), Metadata: map[string]string{"k": "v"}, Value: []byte("x")})
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"version only", good[:1]},
		{"truncated metadata", good[:len(good)-3]},
		{"huge pair count", []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRecord("k", tt.data); !errors.Is(err, errCorrupt) {
				t.Errorf("decodeRecord(%x) error = %v, want errCorrupt", tt.data, err)
			}
		})
	}
	if _, _, err := splitComponent([]byte("abc\x00")); !errors.Is(err, errCorrupt) {
		t.Errorf("splitComponent(unterminated) error = %v, want errCorrupt", err)
	}
	if _, err := unescape([]byte("a\x00b")); !errors.Is(err, errCorrupt) {
		t.Errorf("unescape(bare nul) error = %v, want errCorrupt", err)
	}
}
