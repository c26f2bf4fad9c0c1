package rules

import (
	"fmt"
	"slices"
)

// Evaluate decides whether c may call r in namespace. It considers the
// built-in rules and those of rules that belong to namespace; rules marked
// Builtin are skipped, because the evaluator brings its own and a copy
// fetched from elsewhere must not stand in for them.
//
// The highest priority among matching rules decides, and at equal priority
// DENY wins. A stored rule's priority counts as at most MaxPriority and at
// least MinPriority whatever it says, so nothing outranks a built-in. When
// no rule matches, the request is denied.
func Evaluate(rules []Rule, c Caller, namespace string, r Resource) Decision {
	var best *Rule
	consider := func(rule *Rule) {
		if !matches(rule, c, r) {
			return
		}
		if best == nil || outranks(rule, best) {
			best = rule
		}
	}
	for i := range builtins {
		consider(&builtins[i])
	}
	for i := range rules {
		if !rules[i].Builtin && rules[i].Namespace == namespace {
			consider(&rules[i])
		}
	}
	if best == nil {
		return Decision{Access: Deny, namespace: namespace, resource: r}
	}
	decided := *best
	return Decision{Access: decided.Access, Rule: &decided}
}

// outranks reports whether a decides over b: a higher priority, or the same
// priority with DENY against GRANT.
func outranks(a, b *Rule) bool {
	pa, pb := priority(a), priority(b)
	if pa != pb {
		return pa > pb
	}
	return a.Access == Deny && b.Access != Deny
}

// priority is the rule's effective priority: stored rules are held within
// [MinPriority, MaxPriority] so that the built-ins stay on top.
func priority(rule *Rule) int32 {
	if rule.Builtin {
		return BuiltinPriority
	}
	return min(max(rule.Priority, MinPriority), MaxPriority)
}

func reason(rule Rule) string {
	verb := "denies"
	if rule.Access == Grant {
		verb = "grants"
	}
	if rule.ID == AdminRuleID {
		return fmt.Sprintf("built-in rule %q %s admins of %q everything", rule.ID, verb, PlatformNamespace)
	}
	return fmt.Sprintf("%s %s the request", rule, verb)
}

// matches reports whether rule applies to c calling r.
func matches(rule *Rule, c Caller, r Resource) bool {
	return scopeMatches(rule, c) &&
		Match(rule.Resource.Type, r.Type) &&
		Match(rule.Resource.Name, r.Name) &&
		Match(rule.Resource.Endpoint, r.Endpoint)
}

// scopeMatches reports whether c is in the rule's scope. Scopes other than
// the public one name accounts of the rule's own namespace, which is how the
// built-in admin rule, kept in "micro", reaches only admins of "micro".
func scopeMatches(rule *Rule, c Caller) bool {
	switch {
	case rule.Scope == ScopePublic:
		return true
	case c.Anonymous() || c.Namespace != rule.Namespace:
		return false
	case rule.Scope == ScopeAccounts:
		return true
	default:
		return slices.Contains(c.Roles, rule.Scope)
	}
}

// Match reports whether s matches the glob pattern, in which "*" matches any
// run of characters, including none and including dots; every other byte
// matches itself.
func Match(pattern, s string) bool {
	// The classic greedy matcher with backtracking to the last star runs in
	// O(len(pattern)·len(s)) at worst and allocates nothing.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
