// Package pebble is a store.Backend on an embedded Pebble LSM in a local
// directory: the default store of `micro server`.
//
// A write returns only once it is in the fsynced write-ahead log; concurrent
// writers share fsyncs through Pebble's commit pipeline. Compare-and-set is a
// read-modify-write under a per-key lock (one of a fixed set of stripes), so
// writes to different keys run in parallel and writes to one key queue.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"m3o.dev/services/store"
)

var _ store.Backend = (*Backend)(nil)

// stripes is the number of per-key locks. Two keys share one with
// probability 1/stripes, which only costs them some parallelism.
const stripes = 512

// Options configure Open.
type Options struct {
	// Now is the clock that decides expiry; nil means time.Now.
	Now func() time.Time
	// Logger receives Pebble's own messages; nil discards them.
	Logger *slog.Logger
}

// Backend is a store.Backend on Pebble.
type Backend struct {
	db    *pebble.DB
	now   func() time.Time
	seed  maphash.Seed
	locks [stripes]sync.Mutex
	usage usage
	sweep sync.Mutex // one sweep at a time: it holds several stripes at once
}

// Open opens or creates the store in dir.
func Open(dir string, opts Options) (*Backend, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	db, err := pebble.Open(dir, &pebble.Options{
		FS:                 privateFS{vfs.Default},
		Merger:             usageMerger,
		Logger:             logger{opts.Logger},
		FormatMajorVersion: pebble.FormatNewest,
	})
	if err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	b := &Backend{db: db, now: opts.Now, seed: maphash.MakeSeed()}
	if err := b.loadUsage(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return b, nil
}

// loadUsage reads every database's byte counter into memory.
func (b *Backend) loadUsage() error {
	return b.each([]byte{kindUsage}, func(k, v []byte) error {
		database, _, err := splitComponent(k[1:])
		if err != nil {
			return err
		}
		n, err := decodeInt(v)
		if err != nil {
			return fmt.Errorf("usage of %q: %w", database, err)
		}
		b.usage.counter(database).Store(n)
		return nil
	})
}

// Close implements store.Backend.
func (b *Backend) Close() error { return b.db.Close() }

// Get implements store.Backend.
func (b *Backend) Get(_ context.Context, t store.Table, key string) (store.Record, error) {
	rec, ok, err := b.load(recordKey(t, key), key)
	if err != nil {
		return store.Record{}, fmt.Errorf("get %s %q: %w", t, key, err)
	}
	if !ok || !rec.Live(b.now()) {
		return store.Record{}, fmt.Errorf("get %s %q: %w", t, key, store.ErrNotFound)
	}
	return rec, nil
}

// Put implements store.Backend.
func (b *Backend) Put(_ context.Context, t store.Table, rec store.Record, opts store.PutOptions) (uint64, error) {
	rk := recordKey(t, rec.Key)
	unlock := b.lock(rk)
	defer unlock()
	old, exists, err := b.load(rk, rec.Key)
	if err != nil {
		return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
	}
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
	used, ok := b.usage.reserve(t.Database, delta, opts.QuotaBytes)
	if !ok {
		return 0, fmt.Errorf("put %s %q: %d of %d bytes: %w", t, rec.Key, used, opts.QuotaBytes, store.ErrQuotaExceeded)
	}
	rec.Version = current + 1
	batch := b.db.NewBatch()
	defer batch.Close()
	if exists && !old.ExpiresAt.IsZero() {
		_ = batch.Delete(expiryKey(rk, old.ExpiresAt), nil)
	}
	if !rec.ExpiresAt.IsZero() {
		_ = batch.Set(expiryKey(rk, rec.ExpiresAt), nil, nil)
	}
	_ = batch.Set(rk, encodeRecord(rec), nil)
	if err := b.commit(batch, t.Database, delta); err != nil {
		b.usage.add(t.Database, -delta)
		return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
	}
	return rec.Version, nil
}

// Delete implements store.Backend.
func (b *Backend) Delete(_ context.Context, t store.Table, key string, ifVersion *uint64) error {
	rk := recordKey(t, key)
	unlock := b.lock(rk)
	defer unlock()
	rec, ok, err := b.load(rk, key)
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", t, key, err)
	}
	if !ok || !rec.Live(b.now()) {
		return fmt.Errorf("delete %s %q: %w", t, key, store.ErrNotFound)
	}
	if err := store.CheckVersion(ifVersion, rec.Version); err != nil {
		return fmt.Errorf("delete %s %q: %w", t, key, err)
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	b.deleteRecord(batch, rk, rec)
	if err := b.commit(batch, t.Database, -rec.Size()); err != nil {
		return fmt.Errorf("delete %s %q: %w", t, key, err)
	}
	b.usage.add(t.Database, -rec.Size())
	return nil
}

// deleteRecord adds the deletion of rec, stored under rk, to batch.
func (b *Backend) deleteRecord(batch *pebble.Batch, rk []byte, rec store.Record) {
	_ = batch.Delete(rk, nil)
	if !rec.ExpiresAt.IsZero() {
		_ = batch.Delete(expiryKey(rk, rec.ExpiresAt), nil)
	}
}

// commit adds the usage delta of database to batch and commits it durably:
// Sync returns once the write-ahead log holding the batch is fsynced.
func (b *Backend) commit(batch *pebble.Batch, database string, delta int64) error {
	if delta != 0 {
		_ = batch.Merge(usageKey(database), encodeInt(delta), nil)
	}
	return batch.Commit(pebble.Sync)
}

// load reads and decodes the record stored under rk, live or not.
func (b *Backend) load(rk []byte, key string) (store.Record, bool, error) {
	v, closer, err := b.db.Get(rk)
	if errors.Is(err, pebble.ErrNotFound) {
		return store.Record{}, false, nil
	}
	if err != nil {
		return store.Record{}, false, err
	}
	defer closer.Close()
	rec, err := decodeRecord(key, v)
	return rec, err == nil, err
}

// lock takes the stripe of record key rk and returns its unlock.
func (b *Backend) lock(rk []byte) func() {
	m := &b.locks[b.stripe(rk)]
	m.Lock()
	return m.Unlock
}

// stripe is the index of the lock that guards record key rk.
func (b *Backend) stripe(rk []byte) uint64 {
	return maphash.Bytes(b.seed, rk) % stripes
}
