// Package store is the platform's multi-tenant key-value service,
// m3o.store.v1.StoreService.
//
// Every record lives in a table of a database. A tenant's database is named
// after its namespace; databases whose names start with "_" belong to the
// core service of the same name (_auth to auth, and so on). The Service
// decides who may open which database, checks every input against the limits
// below, and hands one call per RPC to a Backend. The backends live in
// sub-packages (cockroach, pebble, memory) and all pass the conformance suite
// in storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
)

// Backend keeps records. Implementations must be safe for concurrent use.
//
// A Backend never validates names, keys or sizes: the Service has done that.
// It must keep databases and tables apart exactly (database "a" never sees
// database "ab"), treat a record whose ExpiresAt is not after its clock as
// absent on every read, and order keys by their bytes. Expiry is kept to the
// microsecond.
type Backend interface {
	// Get returns the live record under key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, t Table, key string) (Record, error)
	// Scan returns the live records of t that match q, in q's order.
	Scan(ctx context.Context, t Table, q Query) (Page, error)
	// Put stores rec under rec.Key, ignoring rec.Version, and returns the new
	// version. A failed compare-and-set returns a *ConflictError; a write
	// that would take the database past opts.QuotaBytes wraps
	// ErrQuotaExceeded. Either way nothing changes.
	Put(ctx context.Context, t Table, rec Record, opts PutOptions) (uint64, error)
	// Delete removes the live record under key. It wraps ErrNotFound when
	// there is none, and returns a *ConflictError when ifVersion is set and
	// differs from the record's version.
	Delete(ctx context.Context, t Table, key string, ifVersion *uint64) error
	// Databases returns, sorted, the databases holding live records. A
	// non-nil only restricts the answer to those names.
	Databases(ctx context.Context, only []string) ([]string, error)
	// Tables returns, sorted, the tables of database holding live records.
	Tables(ctx context.Context, database string) ([]string, error)
	// Sweep deletes up to limit expired records and says how many it
	// deleted, releasing their bytes from the quota.
	Sweep(ctx context.Context, limit int) (int, error)
	// Close releases the backend's resources.
	Close() error
}

// Table names one table of one database.
type Table struct {
	// Database is the database name, a namespace for tenants.
	Database string
	// Name is the table name within the database.
	Name string
}

// String returns "database/name", for logs and error messages.
func (t Table) String() string { return t.Database + "/" + t.Name }

// Record is one stored value.
type Record struct {
	// Key is the record's key.
	Key string
	// Value is the stored bytes.
	Value []byte
	// Metadata is free-form string pairs.
	Metadata map[string]string
	// Version counts the writes of the key since it was created; set by the
	// backend. A deleted or expired key starts again at 1.
	Version uint64
	// ExpiresAt is when the record stops being visible; zero means never.
	ExpiresAt time.Time
}

// Size is what the record costs against a quota: the bytes of its key, value
// and metadata.
func (r Record) Size() int64 {
	n := len(r.Key) + len(r.Value)
	for k, v := range r.Metadata {
		n += len(k) + len(v)
	}
	return int64(n)
}

// Live reports whether the record is still visible at now.
func (r Record) Live(now time.Time) bool {
	return r.ExpiresAt.IsZero() || r.ExpiresAt.After(now)
}

// Query selects records of one table for Scan.
type Query struct {
	// Prefix keeps only keys starting with it.
	Prefix string
	// Suffix keeps only keys ending with it.
	Suffix string
	// After, when not empty, keeps only keys strictly after it in the scan
	// order: greater when ascending, smaller when descending. It is the
	// cursor behind page tokens.
	After string
	// Offset skips this many matching records.
	Offset int
	// Limit is the most records returned; it must be positive.
	Limit int
	// Desc sorts keys descending.
	Desc bool
	// KeysOnly leaves Value and Metadata out of the records returned.
	KeysOnly bool
	// MaxBytes, when positive, ends the page early, with More set, before
	// the record that would take the Size of the records returned past it.
	// The first record is always returned, whatever its size.
	MaxBytes int64
}

// Fits reports whether a page already holding n records of used bytes has
// room for rec under q.MaxBytes. Backends call it before adding each record.
func (q Query) Fits(n int, used int64, rec Record) bool {
	return q.MaxBytes <= 0 || n == 0 || used+rec.Size() <= q.MaxBytes
}

// Page is one answer of Scan.
type Page struct {
	// Records are the matching records in the requested order.
	Records []Record
	// More is true when further records match beyond Limit.
	More bool
}

// PutOptions qualify a Put.
type PutOptions struct {
	// IfVersion, when set, makes the put a compare-and-set: 0 means the key
	// must not exist, n means its current version must be n.
	IfVersion *uint64
	// QuotaBytes caps the total Size of the records of the database; zero
	// means no cap. A put that shrinks a record is always allowed.
	QuotaBytes int64
}

// Errors a Backend or the Service return. Callers test them with errors.Is.
var (
	// ErrNotFound means the record does not exist or has expired.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a compare-and-set saw another version; the error is
	// a *ConflictError carrying that version.
	ErrConflict = errors.New("version conflict")
	// ErrQuotaExceeded means the write would take the database past its quota.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrInvalidArgument means the request is malformed; the error is an
	// *invalid.Error naming the fields.
	ErrInvalidArgument = invalid.ErrInvalid
	// ErrPermissionDenied means the caller may not open the database.
	ErrPermissionDenied = rpcerr.ErrPermissionDenied
	// ErrUnauthenticated means the request carries no verified identity.
	ErrUnauthenticated = rpcerr.ErrUnauthenticated
	// ErrUnavailable means the backend could not be reached, as while its
	// database restarts. A write that fails so may or may not have been
	// applied; it is safe to try again.
	ErrUnavailable = errors.New("backend unavailable")
)

// ConflictError is a compare-and-set that found another version.
type ConflictError struct {
	// Current is the record's version, 0 when it does not exist.
	Current uint64
}

// Error implements error.
func (e *ConflictError) Error() string {
	if e.Current == 0 {
		return "version conflict: the record does not exist"
	}
	return fmt.Sprintf("version conflict: the record is at version %d", e.Current)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// CheckVersion is the compare-and-set rule every backend applies: it returns
// a *ConflictError unless want is unset or equals current (0 for a missing
// record).
func CheckVersion(want *uint64, current uint64) error {
	if want != nil && *want != current {
		return &ConflictError{Current: current}
	}
	return nil
}

// PrefixEnd returns the smallest byte string greater than every string that
// starts with prefix, or nil when there is none (prefix empty or all 0xFF).
// Backends use it to turn a prefix into a key range.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
