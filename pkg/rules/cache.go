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

// Cache holds the rules of every namespace it has been asked about and
// refetches them periodically, so that deciding a request costs no call to
// the auth service. The Lister must reach the auth service as a core service
// (its mTLS identity in "micro"), which may list the rules of any
// namespace. A Cache is safe for concurrent use.
type Cache struct {
	lister   Lister
	logger   *slog.Logger
	interval time.Duration

	mu   sync.RWMutex
	byNS map[string][]Rule
}

// NewCache returns a Cache that fetches through l and, once Run, refetches
// every interval (DefaultRefresh when zero).
func NewCache(l Lister, logger *slog.Logger, interval time.Duration) *Cache {
	if interval <= 0 {
		interval = DefaultRefresh
	}
	return &Cache{lister: l, logger: logger, interval: interval, byNS: make(map[string][]Rule)}
}

// Decide evaluates a request against the cached rules of namespace,
// fetching them first if the namespace is new to the cache. When they
// cannot be fetched it returns the error and a denial.
func (c *Cache) Decide(ctx context.Context, caller Caller, namespace string, r Resource) (Decision, error) {
	rules, err := c.Rules(ctx, namespace)
	if err != nil {
		return Decision{Access: Deny, Reason: "the rules of the namespace are unavailable"}, err
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

// Run refreshes the cache every interval until ctx is done. Failures are
// logged and the stale rules kept, because a brief outage of the auth
// service should not change decisions.
func (c *Cache) Run(ctx context.Context) {
	periodic.Every(ctx, c.interval, c.logger, "refresh access rules", c.Refresh)
}

func (c *Cache) fetch(ctx context.Context, namespace string) ([]Rule, error) {
	resp, err := c.lister.List(ctx, &authv1.RulesServiceListRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list rules of %q: %w", namespace, err)
	}
	rules := make([]Rule, 0, len(resp.GetRules()))
	for _, p := range resp.GetRules() {
		rules = append(rules, FromProto(p))
	}
	c.mu.Lock()
	c.byNS[namespace] = rules
	c.mu.Unlock()
	return rules, nil
}
