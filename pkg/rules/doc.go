// Package rules decides whether a caller may call a resource, from the access
// rules of the resource's namespace.
//
// A rule lets a scope (anyone, any account of the namespace, or the holders
// of one role) reach resources matched by glob patterns, where "*" matches
// any run of characters: "m3o.store.v1.*" matches every service of the store
// package. Anything no rule grants is denied. Among the rules that match, the
// highest priority decides, and at equal priority DENY wins.
//
// A few rules are built into the evaluator rather than stored: the public
// endpoints (logging in, the public keys, health and sign-up) are open to
// anyone, and the admins of "micro" may call everything everywhere. They
// outrank every stored rule, because stored priorities are capped at
// MaxPriority, so no rule a tenant or an admin writes can lock the platform
// out of itself.
//
// Evaluate is a pure function, which the auth service's Explain and every
// enforcing service share. A Cache keeps each namespace's rules from the
// auth service's RulesService fresh, for the proxy and the services that
// decide per request.
package rules
