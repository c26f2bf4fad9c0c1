// Package platform holds the facts every part of M3O agrees on: the name of
// the platform's own namespace, what a namespace name may be, and the table
// of core services with their proto packages and ports. Each fact is defined
// here once; services, the proxy, `micro server`, the CLI and the manifests'
// checks read it from here.
package platform

import (
	"errors"
	"fmt"
)

// Namespace is the namespace of the core services and the platform's
// admins.
const Namespace = "micro"

// NamespacePattern is the grammar of a namespace name (DESIGN §4). Valid
// checks it without a regular expression.
const NamespacePattern = `^[a-z][a-z0-9-]{2,39}$`

// NamespaceRule is NamespacePattern in words, for the people who read why
// a name was refused.
const NamespaceRule = "3 to 40 lower-case letters, digits or dashes, starting with a letter"

// ErrBadNamespace is wrapped by ValidNamespace's errors.
var ErrBadNamespace = errors.New("bad namespace name")

// ValidNamespace returns nil when ns matches NamespacePattern, and otherwise
// an error that says what the pattern is.
func ValidNamespace(ns string) error {
	if !matchesNamespace(ns) {
		return fmt.Errorf("%w %q: want %s", ErrBadNamespace, ns, NamespaceRule)
	}
	return nil
}

// matchesNamespace is NamespacePattern by hand: it runs on every call that
// names a namespace, where a regular expression would cost more than the
// rest of the checks together.
func matchesNamespace(ns string) bool {
	if len(ns) < 3 || len(ns) > 40 || ns[0] < 'a' || ns[0] > 'z' {
		return false
	}
	for i := 1; i < len(ns); i++ {
		c := ns[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
