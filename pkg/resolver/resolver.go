// Package resolver answers "where does service X run?" from memory. A
// Resolver watches one registry domain through RegistryService.Watch, keeps
// every version and node of it, and picks a node per call without a round
// trip. The proxy and the SDK route with it.
//
// The copy is only a cache: the registry's events keep it current (a node
// whose registration expires is dropped when the registry says so), and when
// the stream breaks the Resolver watches again, with backoff, and replaces
// its copy with the snapshot that every watch opens with. Until then it keeps
// answering from what it had, which is the best knowledge available.
package resolver

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// Defaults for Options.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
)

// ErrNotFound is returned by Pick for a service with no node.
var ErrNotFound = errors.New("resolver: service has no node")

// Options configures a Resolver.
type Options struct {
	// Domain to watch; empty means the caller's own namespace, as the
	// registry decides from the connection's identity.
	Domain string
	// Logger records broken streams; nil discards.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait before watching again after
	// a broken stream; zero means the defaults.
	MinBackoff, MaxBackoff time.Duration
	// CallOptions are passed to every Watch call, such as per-call
	// credentials.
	CallOptions []grpc.CallOption
}

// Resolver is a watch-fed cache of one registry domain. It is safe for
// concurrent use; Run feeds it.
type Resolver struct {
	client registryv1.RegistryServiceClient
	opts   Options
	log    *slog.Logger

	mu       sync.RWMutex
	services map[string]*entry

	ready     chan struct{}
	readyOnce sync.Once
}

// entry is one service name: its versions, and every node of them flattened
// for picking. An entry is never modified once published; a change replaces
// it, so readers need the lock only to find it.
type entry struct {
	versions []*registryv1.Service
	nodes    []*registryv1.Node
	next     *atomic.Uint64
}

// New returns a Resolver watching through client. Call Run to feed it.
func New(client registryv1.RegistryServiceClient, opts Options) *Resolver {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resolver{
		client:   client,
		opts:     opts,
		log:      log,
		services: make(map[string]*entry),
		ready:    make(chan struct{}),
	}
}

// Ready is closed once the first snapshot has been applied, so that a caller
// can wait before routing its first request.
func (r *Resolver) Ready() <-chan struct{} { return r.ready }

// Lookup returns every version of name, sorted by version, and whether it
// has any. The messages are shared with other callers and must not be
// modified.
func (r *Resolver) Lookup(name string) ([]*registryv1.Service, bool) {
	r.mu.RLock()
	e, ok := r.services[name]
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return e.versions, true
}

// Pick returns a node of name, taking every node of every version in turn,
// or ErrNotFound. The node is shared and must not be modified.
func (r *Resolver) Pick(name string) (*registryv1.Node, error) {
	r.mu.RLock()
	e, ok := r.services[name]
	r.mu.RUnlock()
	if !ok || len(e.nodes) == 0 {
		return nil, ErrNotFound
	}
	i := e.next.Add(1) - 1
	return e.nodes[i%uint64(len(e.nodes))], nil
}

// Services returns every version of every service, sorted by name then
// version. The messages are shared and must not be modified.
func (r *Resolver) Services() []*registryv1.Service {
	r.mu.RLock()
	var out []*registryv1.Service
	for _, e := range r.services {
		out = append(out, e.versions...)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, compareServices)
	return out
}

func compareServices(a, b *registryv1.Service) int {
	return cmp.Or(cmp.Compare(a.GetName(), b.GetName()), cmp.Compare(a.GetVersion(), b.GetVersion()))
}

// Run feeds the Resolver until ctx ends, watching again with backoff whenever
// the stream breaks. It returns ctx's error.
func (r *Resolver) Run(ctx context.Context) error {
	backoff := r.opts.MinBackoff
	for {
		synced, err := r.watch(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if synced {
			backoff = r.opts.MinBackoff
		}
		wait := jitter(backoff)
		r.log.Warn("registry watch broken, watching again", "domain", r.opts.Domain, "retry_in", wait, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, r.opts.MaxBackoff)
	}
}

// jitter spreads retries of many resolvers over [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// watch runs one Watch stream until it breaks, reporting whether it got as
// far as a snapshot.
func (r *Resolver) watch(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.client.Watch(ctx, &registryv1.WatchRequest{Domain: r.opts.Domain}, r.opts.CallOptions...)
	if err != nil {
		return false, err
	}
	synced := false
	for {
		ev, err := stream.Recv()
		if err != nil {
			return synced, err
		}
		if ev.GetType() == registryv1.EventType_EVENT_TYPE_SNAPSHOT {
			synced = true
		}
		if !synced {
			// Every watch opens with a snapshot; anything before it would
			// apply to a state this resolver may not have.
			continue
		}
		r.apply(ev)
	}
}
