package cockroach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"m3o.dev/services/store"
)

// Get implements store.Backend.
func (b *Backend) Get(ctx context.Context, t store.Table, key string) (store.Record, error) {
	var rec store.Record
	err := b.query(ctx, func(ctx context.Context) error {
		var c recordColumns
		row := b.pool.QueryRow(ctx, b.sql.get, t.Database, t.Name, []byte(key), b.now())
		if err := row.Scan(&c.value, &c.md, &c.version, &c.expires); err != nil {
			return err
		}
		var err error
		rec, err = c.record(key)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, fmt.Errorf("get %s %q: %w", t, key, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("get %s %q: %w", t, key, err)
	}
	return rec, nil
}

// Scan implements store.Backend.
func (b *Backend) Scan(ctx context.Context, t store.Table, q store.Query) (store.Page, error) {
	columns := "key, value, metadata, version, expires_at"
	if q.KeysOnly {
		columns = "key"
	}
	text, args := b.sql.scanSQL(columns, scanWhere(t, q, b.now()), q.Desc, q.Limit, q.Offset)
	var page store.Page
	err := b.query(ctx, func(ctx context.Context) error {
		rows, err := b.pool.Query(ctx, text, args...)
		if err != nil {
			return err
		}
		page, err = collectPage(rows, q)
		return err
	})
	if err != nil {
		return store.Page{}, fmt.Errorf("scan %s: %w", t, err)
	}
	return page, nil
}

// collectPage reads the rows of a Scan into a page, stopping as soon as the
// page is full so that no more large values are read than are returned.
func collectPage(rows pgx.Rows, q store.Query) (store.Page, error) {
	defer rows.Close()
	var (
		page store.Page
		used int64
	)
	for rows.Next() {
		rec, err := scanRow(rows, q.KeysOnly)
		if err != nil {
			return store.Page{}, err
		}
		if len(page.Records) == q.Limit || !q.Fits(len(page.Records), used, rec) {
			page.More = true
			break
		}
		page.Records = append(page.Records, rec)
		used += rec.Size()
	}
	rows.Close()
	return page, rows.Err()
}

// scanRow reads one row of a Scan.
func scanRow(rows pgx.Rows, keysOnly bool) (store.Record, error) {
	var key []byte
	if keysOnly {
		err := rows.Scan(&key)
		return store.Record{Key: string(key)}, err
	}
	var c recordColumns
	if err := rows.Scan(&key, &c.value, &c.md, &c.version, &c.expires); err != nil {
		return store.Record{}, err
	}
	return c.record(string(key))
}

// recordColumns are the scanned columns of one record.
type recordColumns struct {
	value, md []byte
	version   int64
	expires   *time.Time
}

// record assembles the record stored under key.
func (c recordColumns) record(key string) (store.Record, error) {
	rec := store.Record{Key: key, Value: c.value, Version: uint64(c.version), ExpiresAt: timeOrZero(c.expires)}
	if len(c.md) > 0 {
		if err := json.Unmarshal(c.md, &rec.Metadata); err != nil {
			return store.Record{}, fmt.Errorf("metadata of %q: %w", key, err)
		}
	}
	return rec, nil
}

// scanWhere returns the conditions of a Scan of t: the key range of the
// prefix and the cursor, and the reversed-key range of the suffix.
func scanWhere(t store.Table, q store.Query, now time.Time) *scan {
	s := &scan{}
	s.add("namespace = %s", t.Database)
	s.add("tbl = %s", t.Name)
	s.add("(expires_at IS NULL OR expires_at > %s)", now)
	if q.Prefix != "" {
		s.add("key >= %s", []byte(q.Prefix))
		if end := store.PrefixEnd([]byte(q.Prefix)); end != nil {
			s.add("key < %s", end)
		}
	}
	if q.After != "" {
		cmp := "key > %s"
		if q.Desc {
			cmp = "key < %s"
		}
		s.add(cmp, []byte(q.After))
	}
	if q.Suffix != "" {
		rs := reversed(q.Suffix)
		s.add("rkey >= %s", rs)
		if end := store.PrefixEnd(rs); end != nil {
			s.add("rkey < %s", end)
		}
	}
	return s
}

// Databases implements store.Backend.
func (b *Backend) Databases(ctx context.Context, only []string) ([]string, error) {
	text, args := b.sql.databases, []any{b.now()}
	if only != nil {
		text, args = b.sql.someDBs, []any{b.now(), only}
	}
	names, err := b.names(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("databases: %w", err)
	}
	return names, nil
}

// Tables implements store.Backend.
func (b *Backend) Tables(ctx context.Context, database string) ([]string, error) {
	names, err := b.names(ctx, b.sql.tables, database, b.now())
	if err != nil {
		return nil, fmt.Errorf("tables of %q: %w", database, err)
	}
	return names, nil
}

// names runs a query returning one TEXT column and returns its distinct
// values sorted by their bytes, which a collation-dependent ORDER BY would
// not promise.
func (b *Backend) names(ctx context.Context, text string, args ...any) ([]string, error) {
	var names []string
	err := b.query(ctx, func(ctx context.Context) error {
		rows, err := b.pool.Query(ctx, text, args...)
		if err != nil {
			return err
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	slices.Sort(names)
	return slices.Compact(names), err
}

// reversed returns the bytes of s in reverse order.
func reversed(s string) []byte {
	r := []byte(s)
	slices.Reverse(r)
	return r
}

// timeOrZero dereferences a nullable time.
func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
