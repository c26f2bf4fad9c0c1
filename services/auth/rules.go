package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"m3o.dev/pkg/rules"
	"m3o.dev/services/internal/storeclient"
)

// ruleRecord is a rule as kept in the rules table.
type ruleRecord struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Scope     string `json:"scope"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Endpoint  string `json:"endpoint"`
	Grant     bool   `json:"grant"`
	Priority  int32  `json:"priority"`
	// Description is what the rule is for, as its creator put it.
	Description string `json:"description,omitempty"`
}

func storedRule(r rules.Rule) ruleRecord {
	return ruleRecord{
		ID: r.ID, Namespace: r.Namespace, Scope: r.Scope,
		Type: r.Resource.Type, Name: r.Resource.Name, Endpoint: r.Resource.Endpoint,
		Grant: r.Access == rules.Grant, Priority: r.Priority, Description: r.Description,
	}
}

func (r ruleRecord) rule() rules.Rule {
	access := rules.Deny
	if r.Grant {
		access = rules.Grant
	}
	return rules.Rule{
		ID: r.ID, Namespace: r.Namespace, Scope: r.Scope,
		Resource: rules.Resource{Type: r.Type, Name: r.Name, Endpoint: r.Endpoint},
		Access:   access, Priority: r.Priority, Description: r.Description,
	}
}

func ruleKey(namespace, id string) string { return namespace + "/" + id }

// newRuleID returns a fresh rule id, in the alphabet rule ids allow.
func newRuleID() string { return strings.ToLower(rand.Text()) }

// createRule stores a rule in the caller's namespace, or the one an admin
// of micro names. The id is generated when empty.
func (s *Service) createRule(ctx context.Context, p principal, r rules.Rule) (rules.Rule, error) {
	ns, err := p.target(r.Namespace)
	if err != nil {
		return rules.Rule{}, err
	}
	if !p.mayManageRules(ns) {
		return rules.Rule{}, p.deny("create rules in namespace %q", ns)
	}
	r.Namespace, r.Builtin = ns, false
	if r.ID == "" {
		r.ID = newRuleID()
	}
	if _, err := s.kv.PutJSON(ctx, tableRules, ruleKey(ns, r.ID), storedRule(r), storeclient.Create(0)); err != nil {
		if errors.Is(err, ErrAlreadyExists) {
			return rules.Rule{}, fmt.Errorf("namespace %q already has a rule %q: %w", ns, r.ID, ErrAlreadyExists)
		}
		return rules.Rule{}, err
	}
	s.rulesChanged(ctx, ns)
	s.logger.InfoContext(ctx, "rule created", "rule_id", r.ID, "namespace", ns, "by", p.String())
	return r, nil
}

// deleteRule removes a stored rule; the built-ins are not stored and
// cannot be removed.
func (s *Service) deleteRule(ctx context.Context, p principal, namespace, id string) error {
	ns, err := p.target(namespace)
	if err != nil {
		return err
	}
	if !p.mayManageRules(ns) {
		return p.deny("delete rules in namespace %q", ns)
	}
	if rules.IsBuiltinID(id) {
		return fmt.Errorf("rule %q is built in and cannot be deleted: %w", id, ErrBuiltin)
	}
	if err := s.kv.Delete(ctx, tableRules, ruleKey(ns, id), nil); err != nil {
		return notFound(err, "no rule %q in namespace %q", id, ns)
	}
	s.rulesChanged(ctx, ns)
	s.logger.InfoContext(ctx, "rule deleted", "rule_id", id, "namespace", ns, "by", p.String())
	return nil
}

// listRules returns a namespace's rules, built-ins first, then by
// descending priority and id. The built-ins are the platform's, marked as
// such, and their descriptions say whom they are for: in a tenant's list,
// the scope "admin" of the built-in admin rule means the admins of micro.
func (s *Service) listRules(ctx context.Context, p principal, namespace string) ([]rules.Rule, error) {
	ns, err := p.target(namespace)
	if err != nil {
		return nil, err
	}
	if !p.mayReadRules(ns) {
		return nil, p.deny("read the rules of namespace %q", ns)
	}
	return s.rulesOf(ctx, ns)
}

// rulesOf returns the rules that apply in namespace: built-ins first, then
// the stored ones.
func (s *Service) rulesOf(ctx context.Context, namespace string) ([]rules.Rule, error) {
	stored, err := s.storedRules(ctx, namespace)
	if err != nil {
		return nil, err
	}
	return append(rules.Builtins(), stored...), nil
}

// storedRules returns the rules stored for namespace, sorted.
func (s *Service) storedRules(ctx context.Context, namespace string) ([]rules.Rule, error) {
	prefix := namespace + "/"
	recs, err := s.kv.ScanAll(ctx, tableRules, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]rules.Rule, 0, len(recs))
	for _, rec := range recs {
		var rr ruleRecord
		if !strings.HasPrefix(rec.Key, prefix) || storeclient.DecodeJSON(rec.Value, &rr) != nil || rr.Namespace != namespace {
			continue
		}
		out = append(out, rr.rule())
	}
	slices.SortFunc(out, func(a, b rules.Rule) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// explain decides whether an account of a namespace, or an anonymous
// caller when ref is empty, may call a resource there, with the evaluator
// every enforcing service uses.
func (s *Service) explain(ctx context.Context, p principal, namespace, ref string, r rules.Resource) (rules.Decision, error) {
	ns, err := p.target(namespace)
	if err != nil {
		return rules.Decision{}, err
	}
	if !p.mayReadRules(ns) {
		return rules.Decision{}, p.deny("explain decisions in namespace %q", ns)
	}
	caller := rules.Caller{}
	if ref != "" {
		a, err := s.lookup(ctx, ns, ref)
		if err != nil {
			return rules.Decision{}, err
		}
		caller = rules.Caller{Namespace: a.Namespace, Roles: a.Roles}
	}
	stored, err := s.storedRules(ctx, ns)
	if err != nil {
		return rules.Decision{}, err
	}
	return rules.Evaluate(stored, caller, ns, r), nil
}
