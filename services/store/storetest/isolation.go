package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"m3o.dev/services/store"
)

func testIsolation(t *testing.T, e *env) {
	// Each name is a prefix of the next, which is what a careless encoding
	// of (database, table, key) would let bleed into each other.
	ns1a := store.Table{Database: "ns1", Name: "a"}
	ns1ab := store.Table{Database: "ns1", Name: "ab"}
	ns10a := store.Table{Database: "ns10", Name: "a"}
	ns1b := store.Table{Database: "ns1", Name: "b"}
	e.put(t, ns1a, "k", "ns1/a")
	e.put(t, ns1a, "bk", "ns1/a")
	e.put(t, ns1ab, "k", "ns1/ab")
	e.put(t, ns10a, "k", "ns10/a")
	e.put(t, ns1b, "x", "ns1/b")

	tests := []struct {
		table store.Table
		keys  []string
		value string
	}{
		{ns1a, []string{"bk", "k"}, "ns1/a"},
		{ns1ab, []string{"k"}, "ns1/ab"},
		{ns10a, []string{"k"}, "ns10/a"},
	}
	for _, tt := range tests {
		t.Run(tt.table.String(), func(t *testing.T) {
			for _, desc := range []bool{false, true} {
				got := e.keys(t, tt.table, store.Query{Limit: 100, Desc: desc})
				want := tt.keys
				if desc {
					want = reversed(tt.keys)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Scan(%s, desc %t) mismatch (-want +got):\n%s", tt.table, desc, diff)
				}
			}
			if got := e.get(t, tt.table, "k"); string(got.Value) != tt.value {
				t.Errorf("Get(%s, k) = %q, want %q", tt.table, got.Value, tt.value)
			}
		})
	}
	e.wantNotFound(t, ns1ab, "bk")
	e.wantNotFound(t, ns10a, "bk")
	if got := e.keys(t, ns1a, store.Query{Prefix: "b", Limit: 100}); !cmp.Equal(got, []string{"bk"}) {
		t.Errorf("Scan(%s, prefix b) = %v, want [bk]; table b must not show", ns1a, got)
	}

	// Deleting in one table leaves the same key elsewhere alone.
	if err := e.b.Delete(t.Context(), ns1a, "k", nil); err != nil {
		t.Fatalf("Delete(%s, k) = %v", ns1a, err)
	}
	for _, other := range []store.Table{ns1ab, ns10a} {
		e.get(t, other, "k")
	}
}

func testDatabasesAndTables(t *testing.T, e *env) {
	ctx := t.Context()
	e.put(t, store.Table{Database: "db1", Name: "t1"}, "k", "v")
	e.put(t, store.Table{Database: "db1", Name: "t2"}, "k", "v")
	e.put(t, store.Table{Database: "db1", Name: "t10"}, "k", "v")
	e.put(t, store.Table{Database: "db10", Name: "t1"}, "k", "v")
	e.put(t, store.Table{Database: "_sys", Name: "t1"}, "k", "v")

	dbTests := []struct {
		name string
		only []string
		want []string
	}{
		{"all", nil, []string{"_sys", "db1", "db10"}},
		{"only some", []string{"db10", "missing"}, []string{"db10"}},
		{"only none", []string{}, nil},
	}
	for _, tt := range dbTests {
		t.Run("Databases/"+tt.name, func(t *testing.T) {
			got, err := e.b.Databases(ctx, tt.only)
			if err != nil {
				t.Fatalf("Databases(%v) error = %v", tt.only, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Databases(%v) mismatch (-want +got):\n%s", tt.only, diff)
			}
		})
	}
	tableTests := []struct {
		database string
		want     []string
	}{
		{"db1", []string{"t1", "t10", "t2"}},
		{"db10", []string{"t1"}},
		{"db", nil},
		{"missing", nil},
	}
	for _, tt := range tableTests {
		t.Run("Tables/"+tt.database, func(t *testing.T) {
			got, err := e.b.Tables(ctx, tt.database)
			if err != nil {
				t.Fatalf("Tables(%s) error = %v", tt.database, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Tables(%s) mismatch (-want +got):\n%s", tt.database, diff)
			}
		})
	}

	// An emptied table or database is no longer listed.
	if err := e.b.Delete(ctx, store.Table{Database: "db10", Name: "t1"}, "k", nil); err != nil {
		t.Fatalf("Delete(db10/t1, k) = %v", err)
	}
	if got, err := e.b.Databases(ctx, nil); err != nil || !cmp.Equal(got, []string{"_sys", "db1"}) {
		t.Errorf("Databases(nil) after emptying db10 = %v, %v, want [_sys db1]", got, err)
	}
}

// testConcurrentCompareAndSet has 16 clients each increment one counter 100
// times with read and compare-and-set, retrying on conflict. Any lost update
// leaves the counter short of 1600.
func testConcurrentCompareAndSet(t *testing.T, e *env) {
	const workers, increments = 16, 100
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for done := 0; done < increments; {
				err := increment(t, e.b)
				switch {
				case err == nil:
					done++
				case !errors.Is(err, store.ErrConflict):
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment error = %v, want nil or a conflict", err)
	}
	rec, err := e.b.Get(ctx, tbl, "counter")
	if err != nil {
		t.Fatalf("Get(counter) error = %v", err)
	}
	if got := string(rec.Value); got != strconv.Itoa(workers*increments) {
		t.Errorf("counter = %s, want %d", got, workers*increments)
	}
	if rec.Version != workers*increments {
		t.Errorf("counter version = %d, want %d", rec.Version, workers*increments)
	}
}

// testConcurrentWrites has 8 clients write one new key 10 times each with
// no conditions. Every write must succeed, the first ones racing to create
// the key, and each must get a version of its own.
func testConcurrentWrites(t *testing.T, e *env) {
	const workers, writes = 8, 10
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions = make(map[uint64]int)
		failures []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range writes {
				rec := store.Record{Key: "hot", Value: []byte(fmt.Sprintf("%d/%d", w, i))}
				v, err := e.b.Put(t.Context(), tbl, rec, store.PutOptions{})
				mu.Lock()
				versions[v]++
				if err != nil {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range failures {
		t.Errorf("Put(hot) error = %v, want nil", err)
	}
	for v := uint64(1); v <= workers*writes; v++ {
		if versions[v] != 1 {
			t.Errorf("version %d was returned %d times, want once", v, versions[v])
		}
	}
	if got := e.get(t, tbl, "hot").Version; got != workers*writes {
		t.Errorf("Get(hot).Version = %d, want %d", got, workers*writes)
	}
}

// increment adds one to the counter record with a compare-and-set.
func increment(t *testing.T, b store.Backend) error {
	var n int
	var current uint64
	rec, err := b.Get(t.Context(), tbl, "counter")
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		if n, err = strconv.Atoi(string(rec.Value)); err != nil {
			return err
		}
		current = rec.Version
	}
	next := store.Record{Key: "counter", Value: []byte(strconv.Itoa(n + 1))}
	_, err = b.Put(t.Context(), tbl, next, store.PutOptions{IfVersion: &current})
	return err
}
