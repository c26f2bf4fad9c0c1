package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/periodic"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// DefaultRefresh is how often a Cache refetches rules when not told.
const DefaultRefresh = 10 * time.Second

// Lister is the part of the auth service's RulesService a Cache needs;
// authv1.RulesServiceClient has it.
type Lister interface {
	List(ctx context.Context, in *authv1.RulesServiceListRequest, opts ...grpc.CallOption) (*authv1.RulesServiceListResponse, error)
}

// Watcher is the streaming part of RulesService; a Cache whose Lister has
// it follows the changes of every namespace instead of refetching them
// periodically. authv1.RulesServiceClient has it.
type Watcher interface {
	Watch(ctx context.Context, in *authv1.RulesServiceWatchRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[authv1.RulesServiceWatchResponse], error)
}

// Cache holds the rules of every namespace it has been asked about, so that
// deciding a request costs no call to the auth service. Once Run, it keeps
// them current: through RulesService.Watch, which pushes each namespace's
// rules when they change, refetching every interval while that stream is
// down; or, when the Lister cannot watch, by refetching every interval.
// The Lister must reach the auth service as a core service (its mTLS
// identity in "micro"), which may list and watch the rules of any
// namespace. A Cache is safe for concurrent use.
type Cache struct {
	lister   Lister
	logger   *slog.Logger
	interval time.Duration

	mu   sync.RWMutex
	byNS map[string][]Rule
	// pushed counts the rules pushed per namespace, so that a fetch that
	// began before a push does not replace what it pushed.
	pushed map[string]uint64
}

// NewCache returns a Cache that fetches through l and, once Run, keeps
// current, refetching every interval (DefaultRefresh when zero) when it
// cannot watch.
func NewCache(l Lister, logger *slog.Logger, interval time.Duration) *Cache {
	if interval <= 0 {
		interval = DefaultRefresh
	}
	return &Cache{lister: l, logger: logger, interval: interval, byNS: make(map[string][]Rule), pushed: make(map[string]uint64)}
}

// Decide evaluates a request against the cached rules of namespace,
// fetching them first if the namespace is new to the cache. When they
// cannot be fetched it returns the error and a denial.
func (c *Cache) Decide(ctx context.Context, caller Caller, namespace string, r Resource) (Decision, error) {
	rules, err := c.Rules(ctx, namespace)
	if err != nil {
		return Decision{Access: Deny, unavailable: true}, err
	}
	return Evaluate(rules, caller, namespace, r), nil
}

// Rules returns the cached rules of namespace, fetching them on first use.
// The caller must not modify the result.
func (c *Cache) Rules(ctx context.Context, namespace string) ([]Rule, error) {
	c.mu.RLock()
	rules, ok := c.byNS[namespace]
	c.mu.RUnlock()
	if ok {
		return rules, nil
	}
	return c.fetch(ctx, namespace)
}

// Refresh refetches the rules of every cached namespace. A namespace that
// fails keeps its previous rules; the errors are returned together.
func (c *Cache) Refresh(ctx context.Context) error {
	c.mu.RLock()
	namespaces := slices.Collect(maps.Keys(c.byNS))
	c.mu.RUnlock()
	var errs []error
	for _, ns := range namespaces {
		if _, err := c.fetch(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run keeps the cache current until ctx is done. Failures are logged and
// the stale rules kept, because a brief outage of the auth service should
// not change decisions.
func (c *Cache) Run(ctx context.Context) {
	if _, ok := c.lister.(Watcher); ok {
		periodic.WatchOrPoll(ctx, c.interval, c.logger, "follow access rules", c.watch, c.Refresh)
		return
	}
	periodic.Every(ctx, c.interval, c.logger, "refresh access rules", c.Refresh)
}

// watch applies one stream of every namespace's changes until it fails. A
// resync, which the stream starts with, refetches every cached namespace,
// so that nothing changed before the stream began is missed.
func (c *Cache) watch(ctx context.Context) error {
	stream, err := c.lister.(Watcher).Watch(ctx, &authv1.RulesServiceWatchRequest{AllNamespaces: true})
	if err != nil {
		return fmt.Errorf("watch rules: %w", err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("watch rules: %w", err)
		}
		if resp.GetResync() {
			if err := c.Refresh(ctx); err != nil {
				c.logger.WarnContext(ctx, "refetch access rules", "error", err)
			}
			continue
		}
		c.push(resp.GetNamespace(), resp.GetRules())
	}
}

// push makes the pushed rules those of namespace: a whole, current list,
// as good as a fetch.
func (c *Cache) push(namespace string, pushed []*authv1.Rule) {
	rules := make([]Rule, 0, len(pushed))
	for _, p := range pushed {
		rules = append(rules, FromProto(p))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pushed[namespace]++
	c.byNS[namespace] = rules
}

func (c *Cache) fetch(ctx context.Context, namespace string) ([]Rule, error) {
	c.mu.RLock()
	pushed := c.pushed[namespace]
	c.mu.RUnlock()
	resp, err := c.lister.List(ctx, &authv1.RulesServiceListRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list rules of %q: %w", namespace, err)
	}
	rules := make([]Rule, 0, len(resp.GetRules()))
	for _, p := range resp.GetRules() {
		rules = append(rules, FromProto(p))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.byNS[namespace]; ok && c.pushed[namespace] != pushed {
		// Rules were pushed while this fetch ran, and may be newer.
		return cached, nil
	}
	c.byNS[namespace] = rules
	return rules, nil
}
