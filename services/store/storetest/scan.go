package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"m3o.dev/services/store"
)

// scanKeys are the keys testScan and testPaging write, in ascending order.
var scanKeys = []string{"a", "a/1", "a/2", "ab", "b/1", "b/2", "c"}

func testScan(t *testing.T, e *env) {
	for _, k := range scanKeys {
		e.put(t, tbl, k, "v:"+k)
	}
	tests := []struct {
		name     string
		q        store.Query
		want     []string
		wantMore bool
	}{
		{"all", store.Query{Limit: 100}, scanKeys, false},
		{"all descending", store.Query{Limit: 100, Desc: true}, reversed(scanKeys), false},
		{"prefix", store.Query{Prefix: "a/", Limit: 100}, []string{"a/1", "a/2"}, false},
		{"prefix is a key", store.Query{Prefix: "a", Limit: 100}, []string{"a", "a/1", "a/2", "ab"}, false},
		{"prefix descending", store.Query{Prefix: "a", Desc: true, Limit: 100}, []string{"ab", "a/2", "a/1", "a"}, false},
		{"prefix matching nothing", store.Query{Prefix: "zz", Limit: 100}, nil, false},
		{"suffix", store.Query{Suffix: "/1", Limit: 100}, []string{"a/1", "b/1"}, false},
		{"suffix descending", store.Query{Suffix: "/2", Desc: true, Limit: 100}, []string{"b/2", "a/2"}, false},
		{"suffix is whole key", store.Query{Suffix: "ab", Limit: 100}, []string{"ab"}, false},
		{"prefix and suffix", store.Query{Prefix: "b/", Suffix: "2", Limit: 100}, []string{"b/2"}, false},
		{"limit", store.Query{Limit: 2}, []string{"a", "a/1"}, true},
		{"limit exactly all", store.Query{Limit: 7}, scanKeys, false},
		{"offset", store.Query{Offset: 2, Limit: 2}, []string{"a/2", "ab"}, true},
		{"offset to last", store.Query{Offset: 6, Limit: 10}, []string{"c"}, false},
		{"offset past end", store.Query{Offset: 9, Limit: 10}, nil, false},
		{"offset descending", store.Query{Offset: 1, Limit: 2, Desc: true}, []string{"b/2", "b/1"}, true},
		{"offset with suffix", store.Query{Suffix: "/2", Offset: 1, Limit: 10}, []string{"b/2"}, false},
		{"after", store.Query{After: "a/2", Limit: 100}, []string{"ab", "b/1", "b/2", "c"}, false},
		{"after a missing key", store.Query{After: "aa", Limit: 100}, []string{"ab", "b/1", "b/2", "c"}, false},
		{"after descending", store.Query{After: "b", Desc: true, Limit: 100}, []string{"ab", "a/2", "a/1", "a"}, false},
		{"after within prefix", store.Query{Prefix: "a", After: "a", Limit: 2}, []string{"a/1", "a/2"}, true},
		{"after last", store.Query{After: "c", Limit: 100}, nil, false},
		// Sizes are key plus value: a is 1+3 bytes, a/1 is 3+5.
		{"max bytes", store.Query{Limit: 100, MaxBytes: 12}, []string{"a", "a/1"}, true},
		{"max bytes below one record", store.Query{Limit: 100, MaxBytes: 1}, []string{"a"}, true},
		{"max bytes to spare", store.Query{Prefix: "b/", Limit: 100, MaxBytes: 20}, []string{"b/1", "b/2"}, false},
		{"max bytes descending", store.Query{Prefix: "a/", Limit: 100, MaxBytes: 10, Desc: true}, []string{"a/2"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := e.b.Scan(t.Context(), tbl, tt.q)
			if err != nil {
				t.Fatalf("Scan(%+v) error = %v, want nil", tt.q, err)
			}
			if diff := cmp.Diff(tt.want, keysOf(page.Records), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Scan(%+v) keys mismatch (-want +got):\n%s", tt.q, diff)
			}
			if page.More != tt.wantMore {
				t.Errorf("Scan(%+v).More = %t, want %t", tt.q, page.More, tt.wantMore)
			}
			for _, r := range page.Records {
				if string(r.Value) != "v:"+r.Key || r.Version != 1 {
					t.Errorf("Scan(%+v) record %q = %q v%d, want %q v1", tt.q, r.Key, r.Value, r.Version, "v:"+r.Key)
				}
			}
		})
	}
	t.Run("keys only", func(t *testing.T) {
		page, err := e.b.Scan(t.Context(), tbl, store.Query{Prefix: "b", Limit: 100, KeysOnly: true})
		if err != nil {
			t.Fatalf("Scan(keys only) error = %v, want nil", err)
		}
		if diff := cmp.Diff([]string{"b/1", "b/2"}, keysOf(page.Records)); diff != "" {
			t.Errorf("Scan(keys only) keys mismatch (-want +got):\n%s", diff)
		}
		for _, r := range page.Records {
			if r.Value != nil || r.Metadata != nil {
				t.Errorf("Scan(keys only) record %q carries value %q and metadata %v, want neither", r.Key, r.Value, r.Metadata)
			}
		}
	})
}

func testPaging(t *testing.T, e *env) {
	for _, k := range scanKeys {
		e.put(t, tbl, k, "v")
	}
	for _, desc := range []bool{false, true} {
		t.Run(map[bool]string{false: "ascending", true: "descending"}[desc], func(t *testing.T) {
			var got []string
			q := store.Query{Limit: 3, Desc: desc}
			for pages := 0; ; pages++ {
				if pages > len(scanKeys) {
					t.Fatalf("Scan() paging did not end after %d pages", pages)
				}
				page, err := e.b.Scan(t.Context(), tbl, q)
				if err != nil {
					t.Fatalf("Scan(%+v) error = %v, want nil", q, err)
				}
				got = append(got, keysOf(page.Records)...)
				if !page.More {
					break
				}
				q.After = page.Records[len(page.Records)-1].Key
			}
			want := scanKeys
			if desc {
				want = reversed(scanKeys)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paged Scan() keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// reversed returns a reversed copy of s.
func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
