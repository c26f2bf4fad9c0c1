package proxy

import (
	"context"
	"fmt"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/rules"
)

// RulesAuthorizer applies the namespace rules from a locally cached rule
// set, so deciding a call costs no round trip to the auth service.
type RulesAuthorizer struct {
	cache *rules.Cache
}

var _ Authorizer = (*RulesAuthorizer)(nil)

// NewRulesAuthorizer returns an Authorizer over a rule cache.
func NewRulesAuthorizer(cache *rules.Cache) *RulesAuthorizer {
	return &RulesAuthorizer{cache: cache}
}

// Authorize implements Authorizer. A caller acts in its own namespace, so
// its namespace's rules decide; a caller without a token meets only the
// public built-in rules, which every namespace shares.
func (a *RulesAuthorizer) Authorize(ctx context.Context, caller identity.Caller, service, method string) error {
	namespace := caller.Namespace
	if namespace == "" {
		namespace = rules.PlatformNamespace
	}
	resource := rules.Resource{Type: rules.TypeService, Name: service, Endpoint: method}
	decision, err := a.cache.Decide(ctx, rules.Caller{Namespace: caller.Namespace, Roles: caller.Roles}, namespace, resource)
	if err != nil {
		return fmt.Errorf("rules of namespace %q: %w", namespace, err)
	}
	if decision.Access != rules.Grant {
		return fmt.Errorf("%s: %w", decision.Reason(), ErrDenied)
	}
	return nil
}
