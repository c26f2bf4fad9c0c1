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

	"m3o.dev/services/store"
)

// stored is what Put and Delete learn of a record's current row.
type stored struct {
	exists  bool
	version uint64 // 0 when missing or expired
	size    int64  // the row's size, expired or not: it is still counted
}

// lockRecord reads the current row under key and locks it until the
// transaction ends.
func (b *Backend) lockRecord(ctx context.Context, tx pgx.Tx, t store.Table, key string) (stored, error) {
	var (
		version int64
		expires *time.Time
		s       stored
	)
	err := tx.QueryRow(ctx, b.sql.lock, t.Database, t.Name, []byte(key)).Scan(&version, &expires, &s.size)
	if errors.Is(err, pgx.ErrNoRows) {
		return stored{}, nil
	}
	if err != nil {
		return stored{}, err
	}
	s.exists = true
	if expires == nil || expires.After(b.now()) {
		s.version = uint64(version)
	}
	return s, nil
}

// Put implements store.Backend.
func (b *Backend) Put(ctx context.Context, t store.Table, rec store.Record, opts store.PutOptions) (uint64, error) {
	md, err := encodeMetadata(rec.Metadata)
	if err != nil {
		return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
	}
	var version uint64
	err = b.tx(ctx, func(tx pgx.Tx) error {
		cur, err := b.lockRecord(ctx, tx, t, rec.Key)
		if err != nil {
			return err
		}
		if err := store.CheckVersion(opts.IfVersion, cur.version); err != nil {
			return err
		}
		version = cur.version + 1
		delta := rec.Size() - cur.size
		batch := &pgx.Batch{}
		if cur.exists {
			batch.Queue(b.sql.update, t.Database, t.Name, []byte(rec.Key),
				valueOrEmpty(rec.Value), md, int64(version), nullTime(rec.ExpiresAt), rec.Size())
		} else {
			batch.Queue(b.sql.insert, t.Database, t.Name, []byte(rec.Key), reversed(rec.Key),
				valueOrEmpty(rec.Value), md, int64(version), nullTime(rec.ExpiresAt), rec.Size())
		}
		return b.sendWrite(ctx, tx, batch, t.Database, delta, opts.QuotaBytes)
	})
	if err != nil {
		return 0, fmt.Errorf("put %s %q: %w", t, rec.Key, err)
	}
	return version, nil
}

// Delete implements store.Backend.
func (b *Backend) Delete(ctx context.Context, t store.Table, key string, ifVersion *uint64) error {
	err := b.tx(ctx, func(tx pgx.Tx) error {
		cur, err := b.lockRecord(ctx, tx, t, key)
		if err != nil {
			return err
		}
		if cur.version == 0 {
			return store.ErrNotFound
		}
		if err := store.CheckVersion(ifVersion, cur.version); err != nil {
			return err
		}
		batch := &pgx.Batch{}
		batch.Queue(b.sql.delete, t.Database, t.Name, []byte(key))
		return b.sendWrite(ctx, tx, batch, t.Database, -cur.size, 0)
	})
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", t, key, err)
	}
	return nil
}

// sendWrite sends the record statement in batch together with the change of
// database's byte count, in one round trip. The count goes last so that its
// row, which every writer of the database shares, stays locked for as short
// a time as possible.
func (b *Backend) sendWrite(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, database string, delta, quota int64) error {
	if delta != 0 {
		batch.Queue(b.sql.addUsage, database, delta)
	}
	results := tx.SendBatch(ctx, batch)
	tag, err := results.Exec()
	if err == nil && tag.RowsAffected() == 0 {
		err = errRaced // INSERT … DO NOTHING met a row created meanwhile
	}
	if err == nil && delta != 0 {
		var used int64
		if err = results.QueryRow().Scan(&used); err == nil && delta > 0 && quota > 0 && used > quota {
			err = fmt.Errorf("%d of %d bytes: %w", used, quota, store.ErrQuotaExceeded)
		}
	}
	return errors.Join(err, results.Close())
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
