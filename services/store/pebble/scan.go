package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"m3o.dev/services/store"
)

// Scan implements store.Backend.
func (b *Backend) Scan(_ context.Context, t store.Table, q store.Query) (page store.Page, err error) {
	prefix := tablePrefix(t)
	lower, upper := scanBounds(prefix, q)
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return store.Page{}, fmt.Errorf("scan %s: %w", t, err)
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	now, skip := b.now(), q.Offset
	var used int64
	for valid := first(it, q.Desc); valid; valid = next(it, q.Desc) {
		rec, ok, err := matchRecord(it, prefix, q, now)
		switch {
		case err != nil:
			return store.Page{}, fmt.Errorf("scan %s: %w", t, err)
		case !ok:
			continue
		case skip > 0:
			skip--
			continue
		case len(page.Records) == q.Limit || !q.Fits(len(page.Records), used, rec):
			page.More = true
			return page, nil
		}
		page.Records = append(page.Records, rec)
		used += rec.Size()
	}
	return page, nil
}

// scanBounds returns the Pebble key range of the records of the table at
// prefix that q may return: its prefix range, cut at its cursor.
func scanBounds(prefix []byte, q store.Query) (lower, upper []byte) {
	lower = appendEscaped(slices.Clone(prefix), q.Prefix)
	upper = store.PrefixEnd(lower)
	if q.After == "" {
		return lower, upper
	}
	after := appendEscaped(slices.Clone(prefix), q.After)
	if q.Desc {
		return lower, minBytes(upper, after)
	}
	// after+0x00 is the first byte string above after.
	return maxBytes(lower, append(after, 0)), upper
}

// matchRecord decodes the record under the iterator when it is live and
// passes q's suffix; it leaves value and metadata out for a KeysOnly query.
func matchRecord(it *pebble.Iterator, prefix []byte, q store.Query, now time.Time) (store.Record, bool, error) {
	key, err := unescape(it.Key()[len(prefix):])
	if err != nil || !strings.HasSuffix(key, q.Suffix) {
		return store.Record{}, false, err
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return store.Record{}, false, err
	}
	if q.KeysOnly {
		_, at, _, err := decodeHeader(v)
		return store.Record{Key: key}, err == nil && liveAt(at, now), err
	}
	rec, err := decodeRecord(key, v)
	return rec, err == nil && rec.Live(now), err
}

// Databases implements store.Backend.
func (b *Backend) Databases(_ context.Context, only []string) ([]string, error) {
	if only == nil {
		names, err := b.names([]byte{kindRecord})
		if err != nil {
			return nil, fmt.Errorf("databases: %w", err)
		}
		return names, nil
	}
	var names []string
	for _, database := range slices.Compact(slices.Sorted(slices.Values(only))) {
		live, err := b.hasLive(databasePrefix(database))
		if err != nil {
			return nil, fmt.Errorf("databases: %w", err)
		}
		if live {
			names = append(names, database)
		}
	}
	return names, nil
}

// Tables implements store.Backend.
func (b *Backend) Tables(_ context.Context, database string) ([]string, error) {
	names, err := b.names(databasePrefix(database))
	if err != nil {
		return nil, fmt.Errorf("tables of %q: %w", database, err)
	}
	return names, nil
}

// names returns, in order, each distinct component that follows prefix in
// the record keys and has at least one live record under it. It reads only
// up to the first live record of each, then seeks past the rest.
func (b *Backend) names(prefix []byte) (names []string, err error) {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: store.PrefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	now := b.now()
	for valid := it.First(); valid; {
		name, rest, err := splitComponent(it.Key()[len(prefix):])
		if err != nil {
			return nil, err
		}
		group := slices.Clone(it.Key()[:len(it.Key())-len(rest)])
		live := false
		for ; valid && !live && bytes.HasPrefix(it.Key(), group); valid = it.Next() {
			if live, err = liveValue(it, now); err != nil {
				return nil, err
			}
		}
		if live {
			names = append(names, name)
		}
		valid = it.SeekGE(store.PrefixEnd(group))
	}
	return names, nil
}

// hasLive reports whether some record key under prefix holds a live record.
func (b *Backend) hasLive(prefix []byte) (live bool, err error) {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: store.PrefixEnd(prefix)})
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	now := b.now()
	for valid := it.First(); valid && !live; valid = it.Next() {
		if live, err = liveValue(it, now); err != nil {
			return false, err
		}
	}
	return live, nil
}

// each calls fn with every key and value under prefix, in order, stopping at
// the first error.
func (b *Backend) each(prefix []byte, fn func(k, v []byte) error) (err error) {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: store.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return nil
}

// liveValue reports whether the record under the iterator is live at now.
func liveValue(it *pebble.Iterator, now time.Time) (bool, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return false, err
	}
	_, at, _, err := decodeHeader(v)
	return err == nil && liveAt(at, now), err
}

// first positions it at the start of a scan in the given direction.
func first(it *pebble.Iterator, desc bool) bool {
	if desc {
		return it.Last()
	}
	return it.First()
}

// next steps it in the given direction.
func next(it *pebble.Iterator, desc bool) bool {
	if desc {
		return it.Prev()
	}
	return it.Next()
}

// minBytes returns the smaller of a and b.
func minBytes(a, b []byte) []byte {
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// maxBytes returns the larger of a and b.
func maxBytes(a, b []byte) []byte {
	if bytes.Compare(a, b) >= 0 {
		return a
	}
	return b
}
