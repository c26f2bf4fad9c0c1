package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	storev1 "m3o.dev/proto/m3o/store/v1"
)

// database is the store service's system database that only auth opens.
const database = "_auth"

// Tables of the _auth database.
const (
	tableAccounts   = "accounts"    // <namespace>/<name> → storedAccount
	tableAccountIDs = "account_ids" // <id> → accountRef
	tableNamespaces = "namespaces"  // <namespace> → namespaceRecord
	tableRules      = "rules"       // <namespace>/<id> → rules.Rule
	tableRefresh    = "refresh"     // <sha-256 of token, hex> → refreshRecord
	tableFamilies   = "families"    // <family id> → familyRecord
	tableRevoked    = "revoked"     // <account id> → revocation
	tableKeys       = "keys"        // <kid> → keyRecord
	tableInvites    = "invites"     // <email> → Invite
)

// maxAttempts bounds the retries of a compare-and-set that keeps losing.
const maxAttempts = 8

// kv reads and writes JSON records of the _auth database. It turns the
// store service's statuses into this package's errors, so that nothing
// upstream reaches a caller unchanged.
type kv struct {
	store Store
}

// put options: ifVersion nil writes unconditionally, a pointer to 0 creates
// only; ttl zero never expires.
type putOpts struct {
	ifVersion *uint64
	ttl       time.Duration
}

// create is the putOpts of a record that must not exist yet.
func create(ttl time.Duration) putOpts {
	v := uint64(0)
	return putOpts{ifVersion: &v, ttl: ttl}
}

// at is the putOpts of a compare-and-set against version.
func at(version uint64, ttl time.Duration) putOpts {
	return putOpts{ifVersion: &version, ttl: ttl}
}

// get decodes the record under key into v and returns its version.
func (k kv) get(ctx context.Context, table, key string, v any) (uint64, error) {
	resp, err := k.store.Read(ctx, &storev1.ReadRequest{Database: database, Table: table, Key: key})
	if err != nil {
		return 0, storeError("read "+table, err)
	}
	if len(resp.GetRecords()) != 1 {
		return 0, fmt.Errorf("read %s: %w", table, ErrNotFound)
	}
	rec := resp.GetRecords()[0]
	if err := json.Unmarshal(rec.GetValue(), v); err != nil {
		return 0, fmt.Errorf("decode %s record: %w", table, err)
	}
	return rec.GetVersion(), nil
}

// put encodes v under key and returns the new version. A failed create
// wraps ErrAlreadyExists and a failed compare-and-set ErrConflict.
func (k kv) put(ctx context.Context, table, key string, v any, o putOpts) (uint64, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s record: %w", table, err)
	}
	req := &storev1.WriteRequest{
		Database:  database,
		Table:     table,
		Record:    &storev1.Record{Key: key, Value: value},
		IfVersion: o.ifVersion,
	}
	if o.ttl > 0 {
		req.Ttl = durationpb.New(o.ttl)
	}
	resp, err := k.store.Write(ctx, req)
	if err != nil {
		err = storeError("write "+table, err)
		if o.ifVersion != nil && *o.ifVersion == 0 && errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("write %s: %w", table, ErrAlreadyExists)
		}
		return 0, err
	}
	return resp.GetVersion(), nil
}

// del removes key, only at version when one is given.
func (k kv) del(ctx context.Context, table, key string, version *uint64) error {
	_, err := k.store.Delete(ctx, &storev1.DeleteRequest{Database: database, Table: table, Key: key, IfVersion: version})
	if err != nil {
		return storeError("delete "+table, err)
	}
	return nil
}

// record is one raw record of a scan.
type record struct {
	key     string
	value   []byte
	version uint64
}

// scan returns up to limit records whose keys start with prefix, in key
// order, continuing from pageToken, and the token of the next page.
func (k kv) scan(ctx context.Context, table, prefix string, limit uint32, pageToken string) ([]record, string, error) {
	resp, err := k.store.Read(ctx, &storev1.ReadRequest{
		Database: database, Table: table, Key: prefix, Prefix: true, Limit: limit, PageToken: pageToken,
	})
	if err != nil {
		return nil, "", storeError("scan "+table, err)
	}
	out := make([]record, 0, len(resp.GetRecords()))
	for _, r := range resp.GetRecords() {
		out = append(out, record{key: r.GetKey(), value: r.GetValue(), version: r.GetVersion()})
	}
	return out, resp.GetNextPageToken(), nil
}

// scanAll returns every record whose key starts with prefix.
func (k kv) scanAll(ctx context.Context, table, prefix string) ([]record, error) {
	var all []record
	token := ""
	for {
		page, next, err := k.scan(ctx, table, prefix, 1000, token)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		token = next
	}
}

// storeError decides what a store status means here: a missing record, a
// lost compare-and-set, an outage, or a fault of ours.
func storeError(op string, err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case codes.Aborted:
		return fmt.Errorf("%s: %w", op, ErrConflict)
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// retry runs fn until it returns something other than ErrConflict, at most
// maxAttempts times; fn re-reads what it updates on every attempt.
func retry(ctx context.Context, fn func() error) error {
	var err error
	for range maxAttempts {
		if err = fn(); !errors.Is(err, ErrConflict) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return err
}

// unmarshal decodes a scanned record's value.
func unmarshal(value []byte, v any) error {
	if err := json.Unmarshal(value, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}
