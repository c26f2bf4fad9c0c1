// Package storeclient is the one client of the store service for the core
// services that keep their state there: auth in _auth, config in _config,
// runtime in _runtime, billing in _billing. It reads and writes the records
// of one system database, turns the store's statuses into a handful of
// errors that mean the same thing to every service, and runs
// compare-and-set updates under one retry policy.
//
// The connection must present the owning service's mTLS identity
// (micro/auth for _auth, and so on): that identity is what the store lets
// open the database.
package storeclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	storev1 "m3o.dev/proto/m3o/store/v1"
)

// Store is the part of the store service's client this package uses;
// storev1.StoreServiceClient has it.
type Store interface {
	Read(ctx context.Context, in *storev1.ReadRequest, opts ...grpc.CallOption) (*storev1.ReadResponse, error)
	Write(ctx context.Context, in *storev1.WriteRequest, opts ...grpc.CallOption) (*storev1.WriteResponse, error)
	Delete(ctx context.Context, in *storev1.DeleteRequest, opts ...grpc.CallOption) (*storev1.DeleteResponse, error)
	List(ctx context.Context, in *storev1.ListRequest, opts ...grpc.CallOption) (*storev1.ListResponse, error)
}

// Record is one record of a table.
type Record struct {
	// Key identifies the record in its table.
	Key string
	// Value is the record's content.
	Value []byte
	// Metadata is free-form string pairs stored beside the value.
	Metadata map[string]string
	// Version counts the record's writes; a compare-and-set names it.
	Version uint64
}

// Client reads and writes the tables of one database. It is safe for
// concurrent use.
type Client struct {
	store    Store
	database string
	callOpts []grpc.CallOption
}

// New returns a client of database over store. callOpts go with every call,
// for example a larger grpc.MaxCallRecvMsgSize for big records.
func New(store Store, database string, callOpts ...grpc.CallOption) *Client {
	return &Client{store: store, database: database, callOpts: callOpts}
}

// Get returns the record under key.
func (c *Client) Get(ctx context.Context, table, key string) (Record, error) {
	resp, err := c.store.Read(ctx, &storev1.ReadRequest{Database: c.database, Table: table, Key: key}, c.callOpts...)
	if err != nil {
		return Record{}, mapError(ctx, "read "+table, err)
	}
	if len(resp.GetRecords()) != 1 {
		return Record{}, fmt.Errorf("read %s: %d records for one key", table, len(resp.GetRecords()))
	}
	return fromProto(resp.GetRecords()[0]), nil
}

// GetJSON decodes the record under key into v and returns its version.
func (c *Client) GetJSON(ctx context.Context, table, key string, v any) (uint64, error) {
	rec, err := c.Get(ctx, table, key)
	if err != nil {
		return 0, err
	}
	if err := DecodeJSON(rec.Value, v); err != nil {
		return 0, fmt.Errorf("%s %q: %w", table, key, err)
	}
	return rec.Version, nil
}

// WriteOptions qualify a Put.
type WriteOptions struct {
	// IfVersion, when set, makes the write a compare-and-set: 0 means the
	// record must not exist, n that its version must still be n.
	IfVersion *uint64
	// TTL, when positive, makes the record expire after it.
	TTL time.Duration
}

// Create is the WriteOptions of a record that must not exist yet.
func Create(ttl time.Duration) WriteOptions {
	zero := uint64(0)
	return WriteOptions{IfVersion: &zero, TTL: ttl}
}

// At is the WriteOptions of a compare-and-set against version.
func At(version uint64, ttl time.Duration) WriteOptions {
	return WriteOptions{IfVersion: &version, TTL: ttl}
}

// Put writes rec and returns its new version. A lost compare-and-set wraps
// ErrConflict, and for a record that had to be new ErrAlreadyExists too.
func (c *Client) Put(ctx context.Context, table string, rec Record, o WriteOptions) (uint64, error) {
	req := &storev1.WriteRequest{
		Database:  c.database,
		Table:     table,
		Record:    &storev1.Record{Key: rec.Key, Value: rec.Value, Metadata: rec.Metadata},
		IfVersion: o.IfVersion,
	}
	if o.TTL > 0 {
		req.Ttl = durationpb.New(o.TTL)
	}
	resp, err := c.store.Write(ctx, req, c.callOpts...)
	if err != nil {
		err = mapError(ctx, "write "+table, err)
		if o.IfVersion != nil && *o.IfVersion == 0 && errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("write %s %q: %w: %w", table, rec.Key, ErrAlreadyExists, ErrConflict)
		}
		return 0, err
	}
	return resp.GetVersion(), nil
}

// PutJSON encodes v as the value under key; see Put.
func (c *Client) PutJSON(ctx context.Context, table, key string, v any, o WriteOptions) (uint64, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s record: %w", table, err)
	}
	return c.Put(ctx, table, Record{Key: key, Value: value}, o)
}

// Delete removes the record under key, only at ifVersion when it is set.
// A record that does not exist wraps ErrNotFound.
func (c *Client) Delete(ctx context.Context, table, key string, ifVersion *uint64) error {
	req := &storev1.DeleteRequest{Database: c.database, Table: table, Key: key, IfVersion: ifVersion}
	if _, err := c.store.Delete(ctx, req, c.callOpts...); err != nil {
		return mapError(ctx, "delete "+table, err)
	}
	return nil
}

// DecodeJSON decodes a record's value into v.
func DecodeJSON(value []byte, v any) error {
	if err := json.Unmarshal(value, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

func fromProto(r *storev1.Record) Record {
	return Record{Key: r.GetKey(), Value: r.GetValue(), Metadata: r.GetMetadata(), Version: r.GetVersion()}
}
