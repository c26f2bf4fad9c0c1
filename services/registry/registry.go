// Package registry is the platform's service discovery: the
// m3o.registry.v1.RegistryService over a pluggable Backend.
//
// Every record lives in a domain, which is the namespace of the caller's
// verified identity. Nodes are registered with a time to live; registering
// again is the heartbeat, and a node that stops heartbeating expires. Watch
// streams what changes, version by version, and opens with a snapshot; a
// watcher that may have missed changes is sent a fresh snapshot rather than
// left to drift.
//
// The backends are etcd (production and `micro server`, see the etcd
// sub-package) and memory (tests). Both pass the conformance suite in
// registrytest.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
)

// Limits on what a registration may hold; validate.go enforces them at the
// RPC boundary and the backends rely on them.
const (
	// DefaultTTL is how long nodes live when a registration names no TTL.
	DefaultTTL = 15 * time.Second
	// MaxTTL is the longest time to live a registration may ask for.
	MaxTTL = time.Hour
	// MaxRegistrationBytes bounds one registration, so that a node's record
	// stays inside etcd's default 1.5 MiB request limit.
	MaxRegistrationBytes = 1 << 20
	// CoreDomain is where the platform's own services live; every tenant may
	// read it, and only core services and admins write it.
	CoreDomain = platform.Namespace
)

// Sentinel errors; status.go maps each to one gRPC code.
var (
	// ErrNotFound means no node of the service is registered.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the request is malformed or too large; the error is
	// an *invalid.Error naming the fields.
	ErrInvalid = invalid.ErrInvalid
	// ErrUnauthenticated means the call carries no verified identity.
	ErrUnauthenticated = rpcerr.ErrUnauthenticated
	// ErrPermissionDenied means the caller may not use the domain it asked for.
	ErrPermissionDenied = rpcerr.ErrPermissionDenied
	// ErrUnavailable means the backend's storage could not be reached in
	// time; the caller may retry.
	ErrUnavailable = errors.New("registry storage unavailable")
)

// Service is one version of a named service and the nodes that run it.
type Service struct {
	// Name is the service name.
	Name string `json:"name"`
	// Version is the service version; empty means "latest".
	Version string `json:"version,omitempty"`
	// Metadata is free-form string pairs.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Endpoints are the methods the service serves.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Nodes are the running instances of this version.
	Nodes []Node `json:"nodes,omitempty"`
}

// Endpoint is one callable method of a service.
type Endpoint struct {
	// Name is the method, such as "Greeter.Hello".
	Name string `json:"name"`
	// Request is the request message's full type name.
	Request string `json:"request,omitempty"`
	// Response is the response message's full type name.
	Response string `json:"response,omitempty"`
	// Metadata is free-form string pairs.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Node is one running instance of a service.
type Node struct {
	// ID identifies the node within its service.
	ID string `json:"id"`
	// Address is where the node listens, host:port.
	Address string `json:"address"`
	// Metadata is free-form string pairs.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// EventType says what happened to a service version.
type EventType int

// The event types, in the order of the proto enum.
const (
	// EventCreate means a version got its first node.
	EventCreate EventType = iota + 1
	// EventUpdate means a version's nodes or details changed.
	EventUpdate
	// EventDelete means a version lost its last node.
	EventDelete
	// EventSnapshot carries the whole current state, which replaces whatever
	// the watcher held: it opens every watch and follows any gap.
	EventSnapshot
)

// String returns the event type's name, for logs and test failures.
func (t EventType) String() string {
	switch t {
	case EventCreate:
		return "create"
	case EventUpdate:
		return "update"
	case EventDelete:
		return "delete"
	case EventSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change seen by a watch.
type Event struct {
	// Type says what happened.
	Type EventType
	// Service is the version after the change, with no nodes for a delete;
	// nil for a snapshot.
	Service *Service
	// Snapshot is every version of the watched selection, sorted by name and
	// version; set only for EventSnapshot.
	Snapshot []*Service
	// Time is when the backend observed the change.
	Time time.Time
}

// Backend stores registrations. Domains, names and nodes reaching a backend
// have been validated; a backend checks only the limits of its own storage.
type Backend interface {
	// Register stores the nodes of svc in domain for ttl. Registering a node
	// that exists refreshes its TTL and replaces its details.
	Register(ctx context.Context, domain string, svc *Service, ttl time.Duration) error
	// Deregister removes svc's nodes, or every node of its version when it
	// lists none. Removing what is not there is not an error.
	Deregister(ctx context.Context, domain string, svc *Service) error
	// GetService returns every version of name sorted by version, or
	// ErrNotFound when it has no node.
	GetService(ctx context.Context, domain, name string) ([]*Service, error)
	// ListServices returns every version in domain, sorted by name then version.
	ListServices(ctx context.Context, domain string) ([]*Service, error)
	// Watch calls send with a snapshot of domain (limited to name when it is
	// not empty) and then with every change, in order, until ctx ends or send
	// fails. When the backend cannot prove it saw every change, it sends a
	// fresh snapshot. It returns send's error, or ctx's.
	Watch(ctx context.Context, domain, name string, send func(Event) error) error
}
