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
type statements struct {
	records, usage string // quoted table names

	schema    []string
	get       string
	lock      string
	insert    string
	update    string
	delete    string
	addUsage  string
	sweep     string
	databases string
	someDBs   string
	tables    string
}

// newStatements returns the SQL for the tables named after prefix.
func newStatements(prefix string) statements {
	r := pgx.Identifier{prefix + "_records"}.Sanitize()
	u := pgx.Identifier{prefix + "_usage"}.Sanitize()
	expIdx := pgx.Identifier{prefix + "_records_expires_at"}.Sanitize()
	return statements{
		records: r,
		usage:   u,
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
				PRIMARY KEY (namespace, tbl, key))`, r),
			// The sweep finds due records through this index; most
			// records never expire and stay out of it.
			fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (expires_at) WHERE expires_at IS NOT NULL`, expIdx, r),
			fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
				namespace TEXT PRIMARY KEY,
				bytes     INT8 NOT NULL)`, u),
		},
		get: fmt.Sprintf(`SELECT value, metadata, version, expires_at FROM %s
			WHERE namespace = $1 AND tbl = $2 AND key = $3 AND (expires_at IS NULL OR expires_at > $4)`, r),
		lock: fmt.Sprintf(`SELECT version, expires_at, size FROM %s
			WHERE namespace = $1 AND tbl = $2 AND key = $3 FOR UPDATE`, r),
		insert: fmt.Sprintf(`INSERT INTO %s (namespace, tbl, key, rkey, value, metadata, version, expires_at, size)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (namespace, tbl, key) DO NOTHING`, r),
		update: fmt.Sprintf(`UPDATE %s SET value = $4, metadata = $5, version = $6, expires_at = $7, size = $8
			WHERE namespace = $1 AND tbl = $2 AND key = $3`, r),
		delete: fmt.Sprintf(`DELETE FROM %s WHERE namespace = $1 AND tbl = $2 AND key = $3`, r),
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
