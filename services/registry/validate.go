package registry

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
	"unicode/utf8"

	"m3o.dev/pkg/lazyregexp"
	"m3o.dev/pkg/platform"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/invalid"
)

// Limits from the proto's field comments.
const (
	maxVersionLen       = 64
	maxServiceMetaPairs = 64
	maxServiceMetaBytes = 8 << 10
	maxEndpoints        = 256
	maxEndpointFieldLen = 256
	maxMetaPairs        = 32
	maxNodes            = 1024
	maxTTLSeconds       = uint32(MaxTTL / time.Second)
)

var (
	nameRE   = lazyregexp.New(`^[a-z][a-z0-9._-]{0,127}$`)
	nodeIDRE = lazyregexp.New(`^[A-Za-z0-9._:-]{1,128}$`)
)

// checker collects every violation of a request, with the registry's own
// field checks on top of invalid.Checker.
type checker struct{ invalid.Checker }

// ValidateDomain checks an explicitly named domain, which is a namespace name.
func ValidateDomain(field, domain string) error {
	if platform.ValidNamespace(domain) != nil {
		return invalid.Field(field, "must be %s", platform.NamespaceRule)
	}
	return nil
}

// ValidateName checks a service name.
func ValidateName(field, name string) error {
	if !nameRE.MatchString(name) {
		return invalid.Field(field, "must be 1 to 128 characters of [a-z0-9._-] starting with a letter")
	}
	return nil
}

// ValidateTTL checks a registration's TTL in seconds and returns it as a
// duration, with 0 meaning DefaultTTL.
func ValidateTTL(field string, seconds uint32) (time.Duration, error) {
	if seconds == 0 {
		return DefaultTTL, nil
	}
	if seconds > maxTTLSeconds {
		return 0, invalid.Field(field, "must be at most %d seconds", maxTTLSeconds)
	}
	return time.Duration(seconds) * time.Second, nil
}

// ValidateRegistration checks a service about to be registered: it must name
// at least one node, and fit MaxRegistrationBytes.
func ValidateRegistration(field string, s *Service) error {
	var c checker
	if s == nil {
		c.Addf(field, "is required")
		return c.Err()
	}
	if len(s.Nodes) == 0 {
		c.Addf(field+".nodes", "must name at least one node")
	}
	c.service(field, s)
	c.Check(field, CheckSize(field, s))
	return c.Err()
}

// ValidateDeregistration checks a service about to be deregistered, where
// no nodes means the whole version.
func ValidateDeregistration(field string, s *Service) error {
	var c checker
	if s == nil {
		c.Addf(field, "is required")
		return c.Err()
	}
	c.service(field, s)
	return c.Err()
}

// CheckSize rejects a registration larger than MaxRegistrationBytes.
func CheckSize(field string, s *Service) error {
	if n := registrationSize(s); n > MaxRegistrationBytes {
		return invalid.Field(field, "registration is %d bytes, more than %d", n, MaxRegistrationBytes)
	}
	return nil
}

func (c *checker) service(field string, s *Service) {
	c.Check(field+".name", ValidateName(field+".name", s.Name))
	if len(s.Version) > maxVersionLen || !utf8.ValidString(s.Version) {
		c.Addf(field+".version", "must be at most %d characters of UTF-8", maxVersionLen)
	}
	c.metadata(field+".metadata", s.Metadata, maxServiceMetaPairs)
	if metaBytes(s.Metadata) > maxServiceMetaBytes {
		c.Addf(field+".metadata", "must be at most %d bytes", maxServiceMetaBytes)
	}
	if len(s.Endpoints) > maxEndpoints {
		c.Addf(field+".endpoints", "must be at most %d", maxEndpoints)
	}
	for i, ep := range s.Endpoints {
		c.endpoint(fmt.Sprintf("%s.endpoints[%d]", field, i), ep)
	}
	c.nodes(field+".nodes", s.Nodes)
}

func (c *checker) endpoint(field string, ep Endpoint) {
	for _, f := range []struct{ name, value string }{{"name", ep.Name}, {"request", ep.Request}, {"response", ep.Response}} {
		if len(f.value) > maxEndpointFieldLen {
			c.Addf(field+"."+f.name, "must be at most %d characters", maxEndpointFieldLen)
		}
	}
	if ep.Name == "" {
		c.Addf(field+".name", "is required")
	}
	c.metadata(field+".metadata", ep.Metadata, maxMetaPairs)
}

func (c *checker) nodes(field string, nodes []Node) {
	if len(nodes) > maxNodes {
		c.Addf(field, "must be at most %d per registration", maxNodes)
		return
	}
	seen := make(map[string]bool, len(nodes))
	for i, n := range nodes {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !nodeIDRE.MatchString(n.ID):
			c.Addf(f+".id", "must be 1 to 128 characters of [A-Za-z0-9._:-]")
		case seen[n.ID]:
			c.Addf(f+".id", "is repeated")
		}
		seen[n.ID] = true
		c.address(f+".address", n.Address)
		c.metadata(f+".metadata", n.Metadata, maxMetaPairs)
	}
}

// address accepts host:port with a numeric port; the address is dialled by
// the proxy, so anything else would only fail later.
func (c *checker) address(field, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		c.Addf(field, "must be host:port")
		return
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		c.Addf(field, "must have a port from 1 to 65535")
	}
}

func (c *checker) metadata(field string, m map[string]string, maxPairs int) {
	if len(m) > maxPairs {
		c.Addf(field, "must have at most %d pairs", maxPairs)
	}
	for k := range m {
		if k == "" {
			c.Addf(field, "keys must not be empty")
			return
		}
	}
}

func metaBytes(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// registrationSize approximates the encoded size of s: its strings, which
// dominate any registration large enough to matter.
func registrationSize(s *Service) int {
	n := len(s.Name) + len(s.Version) + metaBytes(s.Metadata)
	for _, ep := range s.Endpoints {
		n += len(ep.Name) + len(ep.Request) + len(ep.Response) + metaBytes(ep.Metadata)
	}
	for _, nd := range s.Nodes {
		n += len(nd.ID) + len(nd.Address) + metaBytes(nd.Metadata)
	}
	return n
}

// validateRegister checks a Register call and returns what the backend needs.
func validateRegister(ctx context.Context, req *registryv1.RegisterRequest) (string, *Service, time.Duration, error) {
	domain, err := domainFor(ctx, "domain", req.GetDomain(), write)
	if err != nil {
		return "", nil, 0, err
	}
	var c checker
	ttl, err := ValidateTTL("ttl_seconds", req.GetTtlSeconds())
	c.Check("ttl_seconds", err)
	svc := fromProto(req.GetService())
	c.Check("service", ValidateRegistration("service", svc))
	return domain, svc, ttl, c.Err()
}

// validateDeregister checks a Deregister call.
func validateDeregister(ctx context.Context, req *registryv1.DeregisterRequest) (string, *Service, error) {
	domain, err := domainFor(ctx, "domain", req.GetDomain(), remove)
	if err != nil {
		return "", nil, err
	}
	svc := fromProto(req.GetService())
	if err := ValidateDeregistration("service", svc); err != nil {
		return "", nil, err
	}
	return domain, svc, nil
}

// validateGet checks a GetService call and returns its domain.
func validateGet(ctx context.Context, req *registryv1.GetServiceRequest) (string, error) {
	domain, err := domainFor(ctx, "domain", req.GetDomain(), read)
	if err != nil {
		return "", err
	}
	return domain, ValidateName("name", req.GetName())
}

// validateWatch checks a Watch call and returns its domain.
func validateWatch(ctx context.Context, req *registryv1.WatchRequest) (string, error) {
	domain, err := domainFor(ctx, "domain", req.GetDomain(), read)
	if err != nil {
		return "", err
	}
	if req.GetName() == "" {
		return domain, nil
	}
	return domain, ValidateName("name", req.GetName())
}
