// Package cockroach is a store.Backend on CockroachDB or PostgreSQL, the
// production store.
//
// One table holds every tenant's records under PRIMARY KEY (namespace, tbl,
// key), so a new tenant costs no schema change and a prefix read is a range
// scan of the primary key. Keys are BYTEA so that both databases order and
// compare them by their bytes whatever the collation. A second table keeps
// the bytes stored per database for quotas.
//
// The SQL is the subset both databases run: no LIKE, no string functions, no
// upserts of more than one row, no advisory locks, no old row values in
// RETURNING. Every read and every write of a record is a single statement
// outside any explicit transaction, so one round trip and one commit, and is
// written to be correct at both CockroachDB's SERIALIZABLE and PostgreSQL's
// default READ COMMITTED (statements.go says how a write keeps the quota
// count exact). Such statements are retried on serialization failures by
// cockroach-go's crdb.ExecuteCtx; the sweep, the one transaction of several
// statements, goes through crdbpgx.ExecuteTx.
package cockroach

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	crdbpgx "github.com/cockroachdb/cockroach-go/v2/crdb/crdbpgxv5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"m3o.dev/pkg/lazyregexp"
	"m3o.dev/services/store"
)

var _ store.Backend = (*Backend)(nil)

// DefaultTable is the default prefix of the backend's table names.
const DefaultTable = "store"

// tableName is what Options.Table may be; it becomes part of SQL identifiers.
var tableName = lazyregexp.New(`^[a-z_][a-z0-9_]{0,40}$`)

// Options configure Open.
type Options struct {
	// Table prefixes the names of the backend's tables, <Table>_records and
	// <Table>_usage; empty means DefaultTable. Tests give each backend its own.
	Table string
	// Now is the clock that decides expiry; nil means time.Now.
	Now func() time.Time
}

// Backend is a store.Backend on CockroachDB or PostgreSQL.
type Backend struct {
	pool *pgxpool.Pool
	now  func() time.Time
	sql  statements
}

// Open connects to the database at dsn (a PostgreSQL URL or key=value DSN,
// which may set pool_max_conns), creates the tables if they are missing and
// returns the backend.
func Open(ctx context.Context, dsn string, opts Options) (*Backend, error) {
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if !tableName.MatchString(opts.Table) {
		return nil, fmt.Errorf("open cockroach store: table prefix %q does not match %s", opts.Table, tableName)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open cockroach store: %w", err)
	}
	return open(ctx, cfg, opts)
}

// open is Open with the pool's configuration parsed, and opts' defaults
// filled in.
func open(ctx context.Context, cfg *pgxpool.Config, opts Options) (*Backend, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open cockroach store: %w", err)
	}
	b := &Backend{pool: pool, now: opts.Now, sql: newStatements(opts.Table)}
	if err := b.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open cockroach store: %w", err)
	}
	return b, nil
}

// Close implements store.Backend.
func (b *Backend) Close() error {
	b.pool.Close()
	return nil
}

// migrate creates the schema, or brings an older one up to date.
func (b *Backend) migrate(ctx context.Context) error {
	for _, stmt := range b.sql.schema {
		if err := b.ddl(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	// prev_size came later. Look before adding it, because even ADD COLUMN
	// IF NOT EXISTS takes PostgreSQL's strongest lock on the table, which
	// would stall every other store process at each start.
	var n int
	if err := b.pool.QueryRow(ctx, b.sql.hasPrevSize, b.sql.recordsName).Scan(&n); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if n == 0 {
		if err := b.ddl(ctx, b.sql.addPrevSize); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// ddl runs an idempotent schema statement. Two processes racing through
// CREATE … IF NOT EXISTS can still collide in PostgreSQL's catalog; the
// loser retries and then finds the object there.
func (b *Backend) ddl(ctx context.Context, stmt string) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if _, err = b.pool.Exec(ctx, stmt); !isCatalogRace(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return err
}

// isCatalogRace reports whether err is a concurrent CREATE colliding with
// another: a unique violation in the catalog, an object that appeared
// meanwhile, or a serialization failure.
func isCatalogRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", "42P07", "42710", "40001":
		return true
	}
	return false
}

// tx runs fn in a transaction that is retried on serialization failures.
//
// crdb.ExecuteInTx treats RELEASE SAVEPOINT as the commit, which it is in
// CockroachDB, and ignores the error of the COMMIT after it. In PostgreSQL
// the COMMIT is the real one, so its error is caught here: a write is never
// acknowledged unless it committed.
func (b *Backend) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var commitErr error
	err := crdbpgx.ExecuteTx(ctx, beginner{b.pool, &commitErr}, pgx.TxOptions{}, fn)
	if err != nil {
		return unavailable(err)
	}
	return unavailable(commitErr)
}

// beginner starts transactions whose Commit error is recorded in err.
type beginner struct {
	pool *pgxpool.Pool
	err  *error
}

// Begin implements crdbpgx.Conn.
func (c beginner) Begin(ctx context.Context) (pgx.Tx, error) {
	return c.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx implements crdbpgx.Conn.
func (c beginner) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := c.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return committer{Tx: tx, err: c.err}, nil
}

// committer is a pgx.Tx that records the error of its Commit.
type committer struct {
	pgx.Tx
	err *error
}

// Commit commits and records the outcome.
func (c committer) Commit(ctx context.Context) error {
	*c.err = c.Tx.Commit(ctx)
	return *c.err
}

// query runs a single statement, retrying it on serialization failures.
// A single statement is its own transaction, so it needs no BEGIN; CockroachDB
// retries most such conflicts itself, and this catches the rest.
// A database that cannot be reached is store.ErrUnavailable.
func (b *Backend) query(ctx context.Context, fn func(context.Context) error) error {
	return unavailable(crdb.ExecuteCtx(ctx, func(ctx context.Context, _ ...any) error { return fn(ctx) }))
}
