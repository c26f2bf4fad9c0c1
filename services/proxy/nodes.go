package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/resolver"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// Tunables of Nodes.
const (
	// NodesIdle is how long a namespace's watch, or a node's connection,
	// is kept without a call; an idle namespace costs the registry a
	// stream, an idle connection a socket.
	NodesIdle = 10 * time.Minute
	// nodesSweep is how often idle and unlisted entries are dropped.
	nodesSweep = time.Minute
	// readyTimeout bounds the wait for a namespace's first snapshot.
	readyTimeout = 5 * time.Second
)

var _ Resolver = (*Nodes)(nil)

// Nodes routes to users' services. Each namespace that calls one gets a
// watch-fed resolver.Resolver of its registry domain, so a call costs no
// registry round trip; each node gets one mTLS connection that presents
// the proxy's certificate and accepts only a server whose certificate
// names the caller's namespace and the service called. A registration
// that points at another namespace's address therefore reaches nothing:
// the handshake fails before any call is sent.
type Nodes struct {
	registry registryv1.RegistryServiceClient
	bundle   *mtls.Bundle
	log      *slog.Logger
	base     context.Context
	stop     context.CancelFunc

	mu     sync.RWMutex
	spaces map[string]*space
	conns  map[nodeKey]*nodeConn
}

// space is one namespace's watch.
type space struct {
	r      *resolver.Resolver
	cancel context.CancelFunc
	used   atomic.Int64
}

// nodeKey is a connection's identity: the same address under another
// namespace or service is another connection, expecting another server.
type nodeKey struct {
	namespace, service, address string
}

type nodeConn struct {
	conn *grpc.ClientConn
	used atomic.Int64
}

// NewNodes returns Nodes that watch registry (which must let it read every
// domain: micro/router) and dial nodes with bundle (micro/proxy). Run
// keeps it tidy and closes it.
func NewNodes(registry registryv1.RegistryServiceClient, bundle *mtls.Bundle, log *slog.Logger) *Nodes {
	base, stop := context.WithCancel(context.Background())
	return &Nodes{
		registry: registry, bundle: bundle, log: log, base: base, stop: stop,
		spaces: map[string]*space{}, conns: map[nodeKey]*nodeConn{},
	}
}

// Resolve implements Resolver: it picks a node of service in namespace,
// round-robin, and returns a connection to it. A method is unary when the
// service registered it with its gRPC name and no "stream" kind, as the
// SDK does; a service that lies about it breaks only its own calls.
func (n *Nodes) Resolve(ctx context.Context, namespace, service, fullMethod string) (*grpc.ClientConn, bool, error) {
	sp, err := n.space(namespace)
	if err != nil {
		return nil, false, err
	}
	if err := sp.wait(ctx); err != nil {
		return nil, false, err
	}
	node, err := sp.r.Pick(service)
	if errors.Is(err, resolver.ErrNotFound) {
		return nil, false, &NotRunningError{Service: service, Namespace: namespace}
	}
	if err != nil {
		return nil, false, err
	}
	conn, err := n.conn(nodeKey{namespace: namespace, service: service, address: node.GetAddress()})
	return conn, err == nil && registeredUnary(sp.r, service, fullMethod), err
}

// registeredUnary reports whether service registered fullMethod as a
// unary endpoint.
func registeredUnary(r *resolver.Resolver, service, fullMethod string) bool {
	versions, _ := r.Lookup(service)
	for _, v := range versions {
		for _, ep := range v.GetEndpoints() {
			if md := ep.GetMetadata(); md["grpc_method"] == fullMethod {
				return md["stream"] == ""
			}
		}
	}
	return false
}

// space returns the namespace's watch, starting it on first use.
func (n *Nodes) space(namespace string) (*space, error) {
	n.mu.RLock()
	sp := n.spaces[namespace]
	n.mu.RUnlock()
	if sp == nil {
		n.mu.Lock()
		if sp = n.spaces[namespace]; sp == nil && n.base.Err() == nil {
			sp = n.watch(namespace)
			n.spaces[namespace] = sp
		}
		n.mu.Unlock()
	}
	if sp == nil {
		return nil, status.Error(codes.Unavailable, "The proxy is stopping.")
	}
	sp.used.Store(time.Now().UnixNano())
	return sp, nil
}

// watch starts a resolver of the namespace's domain.
func (n *Nodes) watch(namespace string) *space {
	ctx, cancel := context.WithCancel(n.base)
	r := resolver.New(n.registry, resolver.Options{Domain: namespace, Logger: n.log.With("namespace", namespace)})
	go r.Run(ctx)
	return &space{r: r, cancel: cancel}
}

// wait waits for the namespace's first snapshot.
func (sp *space) wait(ctx context.Context) error {
	select {
	case <-sp.r.Ready():
		return nil
	default:
	}
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-sp.r.Ready():
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-timer.C:
		return status.Error(codes.Unavailable, "The registry has not answered; try again shortly.")
	}
}

// conn returns the connection to a node, dialling it on first use.
func (n *Nodes) conn(key nodeKey) (*grpc.ClientConn, error) {
	n.mu.RLock()
	nc := n.conns[key]
	n.mu.RUnlock()
	if nc == nil {
		var err error
		if nc, err = n.dial(key); err != nil {
			return nil, err
		}
	}
	nc.used.Store(time.Now().UnixNano())
	return nc.conn, nil
}

// dial adds a connection for key, or returns the one another call added
// meanwhile.
func (n *Nodes) dial(key nodeKey) (*nodeConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nc := n.conns[key]; nc != nil {
		return nc, nil
	}
	expect := mtls.Identity{Namespace: key.namespace, Service: key.service}
	conn, err := grpcclient.Dial(key.address, n.bundle, expect)
	if err != nil {
		return nil, fmt.Errorf("node of %s at %s: %w", expect, key.address, err)
	}
	nc := &nodeConn{conn: conn}
	n.conns[key] = nc
	return nc, nil
}

// Run drops idle namespaces and connections, and connections to nodes no
// longer listed, until ctx ends; then it stops every watch and closes
// every connection.
func (n *Nodes) Run(ctx context.Context) {
	tick := time.NewTicker(nodesSweep)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			n.close()
			return
		case <-tick.C:
			n.sweep(time.Now().Add(-NodesIdle))
		}
	}
}

// sweep drops what was last used before cutoff, and connections whose
// node has left the registry.
func (n *Nodes) sweep(cutoff time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ns, sp := range n.spaces {
		if sp.used.Load() < cutoff.UnixNano() {
			sp.cancel()
			delete(n.spaces, ns)
		}
	}
	for key, nc := range n.conns {
		sp := n.spaces[key.namespace]
		if nc.used.Load() < cutoff.UnixNano() || sp == nil || !listed(sp.r, key) {
			nc.conn.Close()
			delete(n.conns, key)
		}
	}
}

// listed reports whether key's node is still in the registry.
func listed(r *resolver.Resolver, key nodeKey) bool {
	versions, _ := r.Lookup(key.service)
	for _, v := range versions {
		for _, node := range v.GetNodes() {
			if node.GetAddress() == key.address {
				return true
			}
		}
	}
	return false
}

// close stops every watch and closes every connection.
func (n *Nodes) close() {
	n.stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, nc := range n.conns {
		nc.conn.Close()
	}
	n.spaces, n.conns = map[string]*space{}, map[nodeKey]*nodeConn{}
}
