package cockroach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"m3o.dev/services/store"
)

// raceRetries bounds how often Put and Delete try again when their condition
// failed but the version they then read says it holds: a concurrent write
// moved the record away and back in between.
const raceRetries = 3

// Put implements store.Backend. It is one statement; a failed
// compare-and-set takes one more, to read the version it reports.
func (b *Backend) Put(ctx context.Context, t store.Table, rec store.Record, opts store.PutOptions) (uint64, error) {
	md, err := encodeMetadata(rec.Metadata)
	if err != nil {
		return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
	}
	text, last := b.sql.put, any(reversed(rec.Key))
	switch {
	case opts.IfVersion != nil && *opts.IfVersion == 0:
		text = b.sql.create
	case opts.IfVersion != nil:
		text, last = b.sql.swap, int64(*opts.IfVersion)
	}
	args := []any{t.Database, t.Name, []byte(rec.Key), valueOrEmpty(rec.Value), md,
		nullTime(rec.ExpiresAt), rec.Size(), b.now(), opts.QuotaBytes, last}
	for attempt := 0; ; attempt++ {
		version, written, err := b.write(ctx, text, args...)
		switch {
		case isQuotaRefusal(err):
			return 0, fmt.Errorf("put %s %q: over the quota of %d bytes: %w", t, rec.Key, opts.QuotaBytes, store.ErrQuotaExceeded)
		case err != nil:
			return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
		case written:
			return version, nil
		}
		current, err := b.current(ctx, t, rec.Key)
		if err == nil {
			err = store.CheckVersion(opts.IfVersion, current)
		}
		if err == nil && attempt == raceRetries {
			err = &store.ConflictError{Current: current}
		}
		if err != nil {
			return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
		}
	}
}

// Delete implements store.Backend. It is one statement; a delete that finds
// nothing to delete takes one more, when it has a version to compare, to
// tell a missing record from another version.
func (b *Backend) Delete(ctx context.Context, t store.Table, key string, ifVersion *uint64) error {
	text, args := b.sql.delete, []any{t.Database, t.Name, []byte(key), b.now()}
	if ifVersion != nil {
		text, args = b.sql.deleteIf, append(args, int64(*ifVersion))
	}
	for attempt := 0; ; attempt++ {
		_, written, err := b.write(ctx, text, args...)
		switch {
		case err != nil:
			return fmt.Errorf("delete %s %q: %w", t, key, err)
		case written:
			return nil
		case ifVersion == nil:
			return fmt.Errorf("delete %s %q: %w", t, key, store.ErrNotFound)
		}
		current, err := b.current(ctx, t, key)
		switch {
		case err != nil:
			return fmt.Errorf("delete %s %q: %w", t, key, err)
		case current == 0:
			return fmt.Errorf("delete %s %q: %w", t, key, store.ErrNotFound)
		case current != *ifVersion || attempt == raceRetries:
			return fmt.Errorf("delete %s %q: %w", t, key, &store.ConflictError{Current: current})
		}
	}
}

// write runs one of the statements of Put and Delete and returns the version
// it wrote. written is false when its condition left the record unchanged.
func (b *Backend) write(ctx context.Context, text string, args ...any) (version uint64, written bool, err error) {
	var v int64
	err = b.query(ctx, func(ctx context.Context) error {
		return b.pool.QueryRow(ctx, text, args...).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return uint64(v), err == nil, err
}

// current returns the version of the live record under key, 0 for none.
func (b *Backend) current(ctx context.Context, t store.Table, key string) (uint64, error) {
	var v int64
	err := b.query(ctx, func(ctx context.Context) error {
		return b.pool.QueryRow(ctx, b.sql.current, t.Database, t.Name, []byte(key), b.now()).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(v), err
}

// isQuotaRefusal reports whether err is a write statement's refusal to take
// a database past its quota: the NULL it then puts in the usage row's NOT
// NULL bytes. No other NOT NULL column of the writes is ever given a NULL.
func isQuotaRefusal(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23502"
}

// Sweep implements store.Backend.
func (b *Backend) Sweep(ctx context.Context, limit int) (int, error) {
	var removed int
	err := b.tx(ctx, func(tx pgx.Tx) error {
		freed, n, err := b.deleteDue(ctx, tx, limit)
		if err != nil {
			return err
		}
		removed = n
		// Counters are updated in name order so that two sweeps cannot
		// deadlock on them.
		batch := &pgx.Batch{}
		for _, database := range slices.Sorted(maps.Keys(freed)) {
			batch.Queue(b.sql.addUsage, database, -freed[database])
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	return removed, nil
}

// deleteDue deletes up to limit expired records and returns the bytes freed
// per database and the number deleted.
func (b *Backend) deleteDue(ctx context.Context, tx pgx.Tx, limit int) (map[string]int64, int, error) {
	rows, err := tx.Query(ctx, b.sql.sweep, b.now(), limit)
	if err != nil {
		return nil, 0, err
	}
	freed := make(map[string]int64)
	var (
		database string
		size     int64
	)
	tag, err := pgx.ForEachRow(rows, []any{&database, &size}, func() error {
		freed[database] += size
		return nil
	})
	return freed, int(tag.RowsAffected()), err
}

// encodeMetadata encodes metadata as JSON, or nil (SQL NULL) when empty.
func encodeMetadata(md map[string]string) ([]byte, error) {
	if len(md) == 0 {
		return nil, nil
	}
	return json.Marshal(md)
}

// nullTime maps the zero time to SQL NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// valueOrEmpty keeps a nil value from becoming NULL in a NOT NULL column.
func valueOrEmpty(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
