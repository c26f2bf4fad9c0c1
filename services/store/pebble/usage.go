package pebble

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// usageMerger adds up the int64 deltas merged into a usage key. Addition
// commutes, so concurrent writers to one database never read-modify-write
// its counter and never wait for each other's commits.
var usageMerger = &pebble.Merger{
	Name: "m3o.store.usage.v1",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		s := &sum{}
		return s, s.MergeNewer(value)
	},
}

// sum is the ValueMerger behind usageMerger.
type sum struct{ n int64 }

// MergeNewer implements pebble.ValueMerger.
func (s *sum) MergeNewer(value []byte) error {
	d, err := decodeInt(value)
	s.n += d
	return err
}

// MergeOlder implements pebble.ValueMerger.
func (s *sum) MergeOlder(value []byte) error { return s.MergeNewer(value) }

// Finish implements pebble.ValueMerger.
func (s *sum) Finish(bool) ([]byte, io.Closer, error) { return encodeInt(s.n), nil, nil }

// encodeInt encodes a usage value or delta.
func encodeInt(n int64) []byte { return binary.AppendVarint(nil, n) }

// decodeInt decodes a usage value or delta.
func decodeInt(b []byte) (int64, error) {
	n, l := binary.Varint(b)
	if l <= 0 || l != len(b) {
		return 0, fmt.Errorf("usage %x: %w", b, errCorrupt)
	}
	return n, nil
}

// usage holds the bytes stored per database in memory, loaded at open and
// kept in step with every commit, so that a quota check reads no disk.
type usage struct {
	mu sync.Mutex
	db map[string]*atomic.Int64
}

// counter returns database's counter, creating it at zero.
func (u *usage) counter(database string) *atomic.Int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	c, ok := u.db[database]
	if !ok {
		if u.db == nil {
			u.db = make(map[string]*atomic.Int64)
		}
		c = new(atomic.Int64)
		u.db[database] = c
	}
	return c
}

// reserve adds delta to database's counter unless that takes a growing
// database past quota (0 meaning no quota). The caller takes the delta back
// with add when its commit fails.
func (u *usage) reserve(database string, delta, quota int64) (used int64, ok bool) {
	c := u.counter(database)
	for {
		cur := c.Load()
		if delta > 0 && quota > 0 && cur+delta > quota {
			return cur + delta, false
		}
		if c.CompareAndSwap(cur, cur+delta) {
			return cur + delta, true
		}
	}
}

// add adds delta to database's counter.
func (u *usage) add(database string, delta int64) {
	u.counter(database).Add(delta)
}
