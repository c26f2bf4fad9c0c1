package pebble

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"m3o.dev/services/store"
)

// expired is one entry of the expiry index that is due.
type expired struct {
	index  []byte // the index key
	record []byte // the record key it names
	at     time.Time
}

// Sweep implements store.Backend. It deletes the records the expiry index
// names as due, in one batch. The batch is not synced: if it is lost in a
// crash, the records are still expired and the next sweep finds them again.
func (b *Backend) Sweep(_ context.Context, limit int) (int, error) {
	b.sweep.Lock()
	defer b.sweep.Unlock()
	now := b.now()
	due, err := b.due(now, limit)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	unlock := b.lockAll(due)
	defer unlock()
	batch := b.db.NewBatch()
	defer batch.Close()
	freed := make(map[string]int64)
	removed := 0
	for _, e := range due {
		t, key, err := parseRecordKey(e.record)
		if err != nil {
			return 0, fmt.Errorf("sweep: %w", err)
		}
		rec, ok, err := b.load(e.record, key)
		if err != nil {
			return 0, fmt.Errorf("sweep %s %q: %w", t, key, err)
		}
		_ = batch.Delete(e.index, nil)
		if ok && rec.ExpiresAt.Equal(e.at) && !rec.Live(now) {
			_ = batch.Delete(e.record, nil)
			freed[t.Database] += rec.Size()
			removed++
		}
	}
	for database, n := range freed {
		_ = batch.Merge(usageKey(database), encodeInt(-n), nil)
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	for database, n := range freed {
		b.usage.add(database, -n)
	}
	return removed, nil
}

// due returns up to limit expiry index entries at or before now.
func (b *Backend) due(now time.Time, limit int) (due []expired, err error) {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindExpiry}, UpperBound: expiryBound(now)})
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for valid := it.First(); valid && len(due) < limit; valid = it.Next() {
		rk, at, err := parseExpiryKey(it.Key())
		if err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		due = append(due, expired{index: slices.Clone(it.Key()), record: rk, at: at})
	}
	return due, nil
}

// lockAll takes the stripes of every due record once each, in order, so that
// it can neither deadlock with itself nor with a writer, which holds one.
func (b *Backend) lockAll(due []expired) func() {
	var idx []uint64
	for _, e := range due {
		idx = append(idx, b.stripe(e.record))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		b.locks[i].Lock()
	}
	return func() {
		for _, i := range idx {
			b.locks[i].Unlock()
		}
	}
}

// parseRecordKey splits a record key into its table and key.
func parseRecordKey(rk []byte) (store.Table, string, error) {
	if len(rk) == 0 || rk[0] != kindRecord {
		return store.Table{}, "", fmt.Errorf("record key %q: %w", rk, errCorrupt)
	}
	database, rest, err := splitComponent(rk[1:])
	if err != nil {
		return store.Table{}, "", err
	}
	name, rest, err := splitComponent(rest)
	if err != nil {
		return store.Table{}, "", err
	}
	key, err := unescape(rest)
	return store.Table{Database: database, Name: name}, key, err
}
