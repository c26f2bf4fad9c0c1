package mtls

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"m3o.dev/pkg/lazyregexp"
)

// uriPrefix is fixed: the trust domain "m3o" never varies, so a certificate
// from some other SPIFFE deployment can never pass as one of ours.
const uriPrefix = "spiffe://m3o/ns/"

var (
	// namespacePattern is the namespace grammar of the platform (DESIGN.md §4).
	namespacePattern = lazyregexp.New(`^[a-z][a-z0-9-]{2,39}$`)
	// servicePattern is a DNS-1123 label, so that a service name is also
	// valid as a Kubernetes object name.
	servicePattern = lazyregexp.New(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// ErrBadIdentity is returned for an identity URI or name that does not follow
// the platform grammar.
var ErrBadIdentity = errors.New("bad identity")

// Identity names a workload: the namespace it belongs to and the service it
// runs as. It is carried in certificates as a URI SAN.
type Identity struct {
	// Namespace is the tenant namespace, or "micro" for core services.
	Namespace string
	// Service is the service name within the namespace.
	Service string
}

// URI returns the identity as spiffe://m3o/ns/<namespace>/svc/<service>.
func (id Identity) URI() string {
	return uriPrefix + id.Namespace + "/svc/" + id.Service
}

// String returns "<namespace>/<service>", the short form used in logs.
func (id Identity) String() string {
	return id.Namespace + "/" + id.Service
}

// Validate reports whether both parts of the identity follow the platform
// grammar: a namespace matching ^[a-z][a-z0-9-]{2,39}$ and a service name
// that is a DNS label.
func (id Identity) Validate() error {
	if !namespacePattern.MatchString(id.Namespace) {
		return fmt.Errorf("namespace %q: %w", id.Namespace, ErrBadIdentity)
	}
	if !servicePattern.MatchString(id.Service) {
		return fmt.Errorf("service %q: %w", id.Service, ErrBadIdentity)
	}
	return nil
}

// ParseIdentity parses an identity URI. It is strict: the URI must be exactly
// spiffe://m3o/ns/<namespace>/svc/<service> with no port, user, query,
// fragment, escapes or extra path segments, and both names must be valid.
// That is what makes a URI SAN usable as a security decision.
func ParseIdentity(uri string) (Identity, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return Identity{}, fmt.Errorf("parse %q: %w", uri, ErrBadIdentity)
	}
	// Re-serialising must give back the input: this rejects escapes,
	// userinfo, ports, queries and fragments in one comparison.
	if u.Scheme != "spiffe" || u.Host != "m3o" || u.String() != uri ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.RawPath != "" {
		return Identity{}, fmt.Errorf("parse %q: not a platform identity: %w", uri, ErrBadIdentity)
	}
	parts := strings.Split(strings.TrimPrefix(uri, uriPrefix), "/")
	if !strings.HasPrefix(uri, uriPrefix) || len(parts) != 3 || parts[1] != "svc" {
		return Identity{}, fmt.Errorf("parse %q: want spiffe://m3o/ns/<namespace>/svc/<service>: %w", uri, ErrBadIdentity)
	}
	id := Identity{Namespace: parts[0], Service: parts[2]}
	if err := id.Validate(); err != nil {
		return Identity{}, fmt.Errorf("parse %q: %w", uri, err)
	}
	return id, nil
}

// parseURL parses an identity URI for a certificate template.
func parseURL(uri string) (*url.URL, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("identity URI %q: %w", uri, ErrBadIdentity)
	}
	return u, nil
}
