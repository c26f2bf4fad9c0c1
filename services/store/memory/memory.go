// Package memory is a store.Backend that keeps records in process memory.
// It is for tests: nothing survives the process.
package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"m3o.dev/services/store"
)

var _ store.Backend = (*Backend)(nil)

// Backend is an in-memory store.Backend. The zero value is not usable; call New.
type Backend struct {
	now func() time.Time

	mu     sync.Mutex
	tables map[store.Table]map[string]store.Record
	usage  map[string]int64 // bytes of stored records per database, expired or not
}

// New returns an empty Backend that reads the time from now; nil means
// time.Now.
func New(now func() time.Time) *Backend {
	if now == nil {
		now = time.Now
	}
	return &Backend{
		now:    now,
		tables: make(map[store.Table]map[string]store.Record),
		usage:  make(map[string]int64),
	}
}

// Get implements store.Backend.
func (b *Backend) Get(_ context.Context, t store.Table, key string) (store.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.live(t, key)
	if !ok {
		return store.Record{}, fmt.Errorf("get %s %q: %w", t, key, store.ErrNotFound)
	}
	return clone(rec), nil
}

// Scan implements store.Backend.
func (b *Backend) Scan(_ context.Context, t store.Table, q store.Query) (store.Page, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var keys []string
	for k, rec := range b.tables[t] {
		if rec.Live(now) && matches(k, q) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if q.Desc {
		slices.Reverse(keys)
	}
	keys = keys[min(q.Offset, len(keys)):]
	var page store.Page
	var used int64
	for _, k := range keys {
		rec := clone(b.tables[t][k])
		if q.KeysOnly {
			rec = store.Record{Key: k}
		}
		if len(page.Records) == q.Limit || !q.Fits(len(page.Records), used, rec) {
			page.More = true
			break
		}
		page.Records = append(page.Records, rec)
		used += rec.Size()
	}
	return page, nil
}

// matches reports whether key passes q's prefix, suffix and cursor.
func matches(key string, q store.Query) bool {
	if !strings.HasPrefix(key, q.Prefix) || !strings.HasSuffix(key, q.Suffix) {
		return false
	}
	switch {
	case q.After == "":
		return true
	case q.Desc:
		return key < q.After
	default:
		return key > q.After
	}
}

// Put implements store.Backend.
func (b *Backend) Put(_ context.Context, t store.Table, rec store.Record, opts store.PutOptions) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old, exists := b.tables[t][rec.Key]
	var current uint64
	if exists && old.Live(b.now()) {
		current = old.Version
	}
	if err := store.CheckVersion(opts.IfVersion, current); err != nil {
		return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
	}
	delta := rec.Size()
	if exists {
		delta -= old.Size()
	}
	used := b.usage[t.Database] + delta
	if delta > 0 && opts.QuotaBytes > 0 && used > opts.QuotaBytes {
		return 0, fmt.Errorf("put %s %q: %d of %d bytes: %w", t, rec.Key, used, opts.QuotaBytes, store.ErrQuotaExceeded)
	}
	rec = clone(rec)
	rec.Version = current + 1
	if b.tables[t] == nil {
		b.tables[t] = make(map[string]store.Record)
	}
	b.tables[t][rec.Key] = rec
	b.usage[t.Database] = used
	return rec.Version, nil
}

// Delete implements store.Backend.
func (b *Backend) Delete(_ context.Context, t store.Table, key string, ifVersion *uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.live(t, key)
	if !ok {
		return fmt.Errorf("delete %s %q: %w", t, key, store.ErrNotFound)
	}
	if err := store.CheckVersion(ifVersion, rec.Version); err != nil {
		return fmt.Errorf("delete %s %q: %w", t, key, err)
	}
	b.remove(t, rec)
	return nil
}

// Databases implements store.Backend.
func (b *Backend) Databases(_ context.Context, only []string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	found := make(map[string]bool)
	for t := range b.tables {
		if (only == nil || slices.Contains(only, t.Database)) && b.hasLive(t) {
			found[t.Database] = true
		}
	}
	return slices.Sorted(maps.Keys(found)), nil
}

// Tables implements store.Backend.
func (b *Backend) Tables(_ context.Context, database string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var names []string
	for t := range b.tables {
		if t.Database == database && b.hasLive(t) {
			names = append(names, t.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Sweep implements store.Backend.
func (b *Backend) Sweep(_ context.Context, limit int) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	n := 0
	for t, recs := range b.tables {
		for _, rec := range recs {
			if n == limit {
				return n, nil
			}
			if !rec.Live(now) {
				b.remove(t, rec)
				n++
			}
		}
	}
	return n, nil
}

// Close implements store.Backend.
func (b *Backend) Close() error { return nil }

// live returns the record under key if it exists and has not expired.
// The caller holds mu.
func (b *Backend) live(t store.Table, key string) (store.Record, bool) {
	rec, ok := b.tables[t][key]
	if !ok || !rec.Live(b.now()) {
		return store.Record{}, false
	}
	return rec, true
}

// hasLive reports whether t holds a live record. The caller holds mu.
func (b *Backend) hasLive(t store.Table) bool {
	now := b.now()
	for _, rec := range b.tables[t] {
		if rec.Live(now) {
			return true
		}
	}
	return false
}

// remove deletes rec from t and releases its bytes. The caller holds mu.
func (b *Backend) remove(t store.Table, rec store.Record) {
	delete(b.tables[t], rec.Key)
	if len(b.tables[t]) == 0 {
		delete(b.tables, t)
	}
	b.usage[t.Database] -= rec.Size()
}

// clone copies rec so that callers never share its slices or map with the
// backend.
func clone(rec store.Record) store.Record {
	rec.Value = slices.Clone(rec.Value)
	rec.Metadata = maps.Clone(rec.Metadata)
	return rec
}
