// Package etcd is the registry.Backend on etcd, for production and for
// `micro server` (which runs an embedded etcd, see etcdembed).
//
// Each node is one key, <prefix><domain>/<name>/<version>/<node id>, whose
// value is the node with its service's details, as JSON. A key is attached
// to a lease with the registration's TTL. Registering the same node again
// with the same details only keeps its lease alive, so a heartbeat writes
// nothing and wakes no watcher; a changed registration, or one whose lease
// has gone (it expired, or etcd lost it), is written under a new lease.
package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/registry"
)

var _ registry.Backend = (*Backend)(nil)

// Defaults for Options.
const (
	// DefaultPrefix roots every key the registry writes.
	DefaultPrefix = "/m3o/registry/"
	// DefaultMaxRequestBytes is etcd's default --max-request-bytes.
	DefaultMaxRequestBytes = 3 << 19
	// DefaultMaxTxnOps is etcd's default --max-txn-ops.
	DefaultMaxTxnOps = 128
	// DefaultRequestTimeout bounds one backend call, because the etcd client
	// waits for a connection rather than failing while etcd is away.
	DefaultRequestTimeout = 5 * time.Second
	// requestOverhead is headroom for the framing etcd counts in a request
	// besides keys and values.
	requestOverhead = 1 << 10
)

// Options configures a Backend.
type Options struct {
	// Client is the etcd client; the caller owns and closes it.
	Client *clientv3.Client
	// Prefix roots the registry's keys; empty means DefaultPrefix.
	Prefix string
	// MaxRequestBytes is the server's request limit; zero means
	// DefaultMaxRequestBytes. A node record that cannot fit is rejected.
	MaxRequestBytes int
	// MaxTxnOps is the server's limit of operations per transaction; zero
	// means DefaultMaxTxnOps.
	MaxTxnOps int
	// RequestTimeout bounds each call to etcd; zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logger records watch resynchronisations; nil discards.
	Logger *slog.Logger
}

// Backend stores registrations in etcd.
type Backend struct {
	client   *clientv3.Client
	prefix   string
	maxBytes int
	maxOps   int
	timeout  time.Duration
	log      *slog.Logger
}

// New returns a backend over opts.Client.
func New(opts Options) (*Backend, error) {
	if opts.Client == nil {
		return nil, errors.New("etcd backend: a client is required")
	}
	b := &Backend{
		client:   opts.Client,
		prefix:   opts.Prefix,
		maxBytes: opts.MaxRequestBytes,
		maxOps:   opts.MaxTxnOps,
		timeout:  opts.RequestTimeout,
		log:      opts.Logger,
	}
	if b.prefix == "" {
		b.prefix = DefaultPrefix
	}
	if !strings.HasSuffix(b.prefix, "/") {
		b.prefix += "/"
	}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultMaxRequestBytes
	}
	if b.maxOps <= 0 {
		b.maxOps = DefaultMaxTxnOps
	}
	if b.timeout <= 0 {
		b.timeout = DefaultRequestTimeout
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b, nil
}

// record is the stored value of one node key.
type record struct {
	Service    registry.Service `json:"service"`
	Node       registry.Node    `json:"node"`
	TTLSeconds int64            `json:"ttl_seconds"`
}

// domainPrefix, servicePrefix, versionPrefix and nodeKey lay out the keys.
// Names, domains and node ids cannot hold a slash, and versions are escaped,
// so a prefix never matches a longer sibling name.
func (b *Backend) domainPrefix(domain string) string { return b.prefix + domain + "/" }

func (b *Backend) servicePrefix(domain, name string) string {
	return b.domainPrefix(domain) + name + "/"
}

func (b *Backend) versionPrefix(domain, name, version string) string {
	return b.servicePrefix(domain, name) + url.PathEscape(version) + "/"
}

func (b *Backend) nodeKey(domain, name, version, id string) string {
	return b.versionPrefix(domain, name, version) + id
}

// parseKey splits a node key below domainPrefix into its parts.
func (b *Backend) parseKey(domain, key string) (name, version, id string, err error) {
	rest, ok := strings.CutPrefix(key, b.domainPrefix(domain))
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return "", "", "", fmt.Errorf("parse key %q: not a node key", key)
	}
	version, err = url.PathUnescape(parts[1])
	if err != nil {
		return "", "", "", fmt.Errorf("parse key %q: %w", key, err)
	}
	return parts[0], version, parts[2], nil
}

// decode parses a node record.
func decode(value []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, fmt.Errorf("decode node record: %w", err)
	}
	return &r, nil
}

// mapErr turns the etcd client's transport failures into
// registry.ErrUnavailable, so that callers retry rather than report an
// internal error.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.Unavailable || status.Code(err) == codes.DeadlineExceeded {
		return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
	}
	return err
}
