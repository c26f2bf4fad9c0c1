package cockroach

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// statements is the backend's fixed SQL, with its table names filled in.
//
// Columns of the records table:
//
//	namespace   the database name (a namespace for tenants)
//	tbl         the table name
//	key, rkey   the key, and the key with its bytes reversed: a suffix of key
//	            is a prefix of rkey, so suffix matching is a byte comparison
//	            rather than a string function the two databases disagree on
//	value       the value
//	metadata    the metadata as JSON, NULL when there is none; BYTEA rather
//	            than JSONB, which cannot hold a NUL
//	version     the version
//	expires_at  the expiry, NULL for never
//	size        store.Record.Size, what the record costs against the quota
//	prev_size   the size the row had before its latest write, 0 when that
//	            write created it; only that write's own RETURNING reads it,
//	            to learn the bytes it added without a prior read
type statements struct {
	records, usage string // quoted table names
	recordsName    string // unquoted name of the records table

	schema      []string
	hasPrevSize string
	addPrevSize string
	get         string
	current     string
	put         string // an unconditional write
	create      string // a write that only creates
	swap        string // a write that only replaces version $10
	delete      string // an unconditional delete
	deleteIf    string // a delete of version $5 only
	addUsage    string
	sweep       string
	databases   string
	someDBs     string
	tables      string
}

// newStatements returns the SQL for the tables named after prefix.
func newStatements(prefix string) statements {
	r := pgx.Identifier{prefix + "_records"}.Sanitize()
	u := pgx.Identifier{prefix + "_usage"}.Sanitize()
	expIdx := pgx.Identifier{prefix + "_records_expires_at"}.Sanitize()
	return statements{
		records:     r,
		usage:       u,
		recordsName: prefix + "_records",
		schema: []string{
			fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
				namespace  TEXT NOT NULL,
				tbl        TEXT NOT NULL,
				key        BYTEA NOT NULL,
				rkey       BYTEA NOT NULL,
				value      BYTEA NOT NULL,
				metadata   BYTEA,
				version    INT8 NOT NULL,
				expires_at TIMESTAMPTZ,
				size       INT8 NOT NULL,
				prev_size  INT8 NOT NULL DEFAULT 0,
				PRIMARY KEY (namespace, tbl, key))`, r),
			// The sweep finds due records through this index; most
			// records never expire and stay out of it.
			fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (expires_at) WHERE expires_at IS NOT NULL`, expIdx, r),
			fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
				namespace TEXT PRIMARY KEY,
				bytes     INT8 NOT NULL)`, u),
		},
		hasPrevSize: `SELECT count(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'prev_size'`,
		addPrevSize: fmt.Sprintf(`ALTER TABLE %s ADD COLUMN IF NOT EXISTS prev_size INT8 NOT NULL DEFAULT 0`, r),
		get: fmt.Sprintf(`SELECT value, metadata, version, expires_at FROM %s
			WHERE namespace = $1 AND tbl = $2 AND key = $3 AND %s`, r, live("", "$4")),
		current: fmt.Sprintf(`SELECT version FROM %s
			WHERE namespace = $1 AND tbl = $2 AND key = $3 AND %s`, r, live("", "$4")),
		put:      writeSQL(u, upsertSQL(r, ""), putQuota),
		create:   writeSQL(u, upsertSQL(r, "WHERE NOT "+live("r.", "$8")), putQuota),
		swap:     writeSQL(u, swapSQL(r), putQuota),
		delete:   writeSQL(u, deleteSQL(r, ""), "0"),
		deleteIf: writeSQL(u, deleteSQL(r, "AND version = $5::INT8"), "0"),
		addUsage: fmt.Sprintf(`INSERT INTO %[1]s (namespace, bytes) VALUES ($1, $2)
			ON CONFLICT (namespace) DO UPDATE SET bytes = %[1]s.bytes + excluded.bytes
			RETURNING bytes`, u),
		// The outer expires_at condition is checked again on the row
		// version actually deleted, so a record rewritten meanwhile with a
		// later expiry survives.
		sweep: fmt.Sprintf(`DELETE FROM %[1]s WHERE expires_at <= $1 AND (namespace, tbl, key) IN (
				SELECT namespace, tbl, key FROM %[1]s WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)
			RETURNING namespace, size`, r),
		databases: fmt.Sprintf(`SELECT DISTINCT namespace FROM %s
			WHERE expires_at IS NULL OR expires_at > $1`, r),
		someDBs: fmt.Sprintf(`SELECT n FROM unnest($2::TEXT[]) AS u(n) WHERE EXISTS (
			SELECT 1 FROM %s WHERE namespace = n AND (expires_at IS NULL OR expires_at > $1))`, r),
		tables: fmt.Sprintf(`SELECT DISTINCT tbl FROM %s
			WHERE namespace = $1 AND (expires_at IS NULL OR expires_at > $2)`, r),
	}
}

// live is the condition that the record of the row (whose columns are named
// with prefix) has not expired at the time in parameter now.
func live(prefix, now string) string {
	return fmt.Sprintf("(%[1]sexpires_at IS NULL OR %[1]sexpires_at > %[2]s)", prefix, now)
}

// The writes of Put and Delete are each one statement, so one round trip and,
// outside a transaction, their own commit. The record's row is written first;
// its RETURNING says the new version and how many bytes the write added
// (size - prev_size), and a second data-modifying CTE adds those to the
// database's usage row. Both rows are locked by the statement until it
// commits, records before usage as everywhere else, and both writes see the
// latest committed row whatever the statement's snapshot: an INSERT … ON
// CONFLICT DO UPDATE and an UPDATE or DELETE re-read the row they lock. So
// the count is exact at PostgreSQL's READ COMMITTED as well as at
// CockroachDB's SERIALIZABLE.
//
// A write that would take the database past its quota sets the usage row's
// NOT NULL bytes to NULL. The error that raises (SQLSTATE 23502) undoes the
// whole statement, the record's write included, and Put reports it as
// store.ErrQuotaExceeded. No write that shrinks or keeps a record's size is
// refused, and one that changes no bytes leaves the usage row alone.
//
// The parameters of the writes of Put are:
//
//	$1 namespace  $2 tbl  $3 key  $4 value  $5 metadata  $6 expires_at
//	$7 size  $8 now  $9 quota (0 for none)  $10 rkey, or the version to swap

// putQuota is the quota parameter of Put's writes. Delete's have none: their
// deltas are never positive.
const putQuota = "$9::INT8"

// writeSQL wraps the write of one record row, whose RETURNING gives version
// and delta, into the statement that also moves the usage count by delta,
// within quota (SQL), and returns the new version.
func writeSQL(usage, write, quota string) string {
	return fmt.Sprintf(`WITH w AS (%[3]s),
		used AS (
			INSERT INTO %[1]s AS u (namespace, bytes)
			SELECT $1, CASE WHEN %[2]s = 0 OR w.delta <= %[2]s THEN w.delta END FROM w WHERE w.delta <> 0
			ON CONFLICT (namespace) DO UPDATE SET bytes = CASE
				WHEN %[2]s = 0 OR excluded.bytes <= 0 OR u.bytes + excluded.bytes <= %[2]s THEN u.bytes + excluded.bytes END
			RETURNING bytes)
		SELECT w.version FROM w LEFT JOIN used ON true`, usage, quota, write)
}

// upsertSQL writes a record whether or not its row exists, restarting the
// version at 1 when the row's record had expired. A non-empty where limits
// which existing rows are replaced.
func upsertSQL(records, where string) string {
	return fmt.Sprintf(`INSERT INTO %[1]s AS r (namespace, tbl, key, rkey, value, metadata, version, expires_at, size, prev_size)
			VALUES ($1, $2, $3, $10, $4, $5, 1, $6, $7::INT8, 0)
			ON CONFLICT (namespace, tbl, key) DO UPDATE SET
				value = excluded.value, metadata = excluded.metadata, expires_at = excluded.expires_at,
				version = CASE WHEN %[3]s THEN r.version + 1 ELSE 1 END,
				size = excluded.size, prev_size = r.size
			%[2]s
			RETURNING version, size - prev_size AS delta`, records, where, live("r.", "$8"))
}

// swapSQL replaces the live record of version $10.
func swapSQL(records string) string {
	return fmt.Sprintf(`UPDATE %s SET value = $4, metadata = $5, expires_at = $6, version = version + 1,
				size = $7::INT8, prev_size = size
			WHERE namespace = $1 AND tbl = $2 AND key = $3 AND version = $10::INT8 AND %s
			RETURNING version, size - prev_size AS delta`, records, live("", "$8"))
}

// deleteSQL deletes the live record, if cond (on parameter $5) holds. Its
// parameters are $1 namespace, $2 tbl, $3 key, $4 now.
func deleteSQL(records, cond string) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE namespace = $1 AND tbl = $2 AND key = $3 AND %s %s
			RETURNING version, -size AS delta`, records, live("", "$4"), cond)
}

// scan is a Scan query under construction.
type scan struct {
	where []string
	args  []any
}

// add appends a condition whose one argument is arg, written as %s in cond.
func (s *scan) add(cond string, arg any) {
	s.args = append(s.args, arg)
	s.where = append(s.where, fmt.Sprintf(cond, fmt.Sprintf("$%d", len(s.args))))
}

// scanSQL returns the SELECT for a Scan: the primary-key range
// (namespace, tbl, key >= lower, key < upper), narrowed by the cursor and the
// suffix, ordered by key, with limit+1 rows so that the caller learns whether
// there are more.
func (st statements) scanSQL(columns string, s *scan, desc bool, limit, offset int) (string, []any) {
	order := "ASC"
	if desc {
		order = "DESC"
	}
	s.args = append(s.args, limit+1, offset)
	n := len(s.args)
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY key %s LIMIT $%d OFFSET $%d",
		columns, st.records, strings.Join(s.where, " AND "), order, n-1, n), s.args
}
