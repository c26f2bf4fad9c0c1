package registry

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
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
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,127}$`)
	nodeIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	domainRE = regexp.MustCompile(`^[a-z][a-z0-9-]{2,39}$`)
)

// ValidateDomain checks an explicitly named domain, which is a namespace name.
func ValidateDomain(field, domain string) error {
	if !domainRE.MatchString(domain) {
		return &FieldError{Field: field, Reason: "must match " + domainRE.String()}
	}
	return nil
}

// ValidateName checks a service name.
func ValidateName(field, name string) error {
	if !nameRE.MatchString(name) {
		return &FieldError{Field: field, Reason: "must be 1 to 128 characters of [a-z0-9._-] starting with a letter"}
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
		return 0, &FieldError{Field: field, Reason: fmt.Sprintf("must be at most %d seconds", maxTTLSeconds)}
	}
	return time.Duration(seconds) * time.Second, nil
}

// ValidateRegistration checks a service about to be registered: it must name
// at least one node, and fit MaxRegistrationBytes.
func ValidateRegistration(field string, s *Service) error {
	if s == nil {
		return &FieldError{Field: field, Reason: "is required"}
	}
	if len(s.Nodes) == 0 {
		return &FieldError{Field: field + ".nodes", Reason: "must name at least one node"}
	}
	if err := validateService(field, s); err != nil {
		return err
	}
	return CheckSize(field, s)
}

// ValidateDeregistration checks a service about to be deregistered, where
// no nodes means the whole version.
func ValidateDeregistration(field string, s *Service) error {
	if s == nil {
		return &FieldError{Field: field, Reason: "is required"}
	}
	return validateService(field, s)
}

// CheckSize rejects a registration larger than MaxRegistrationBytes.
func CheckSize(field string, s *Service) error {
	if n := registrationSize(s); n > MaxRegistrationBytes {
		return &FieldError{Field: field, Reason: fmt.Sprintf("registration is %d bytes, more than %d", n, MaxRegistrationBytes)}
	}
	return nil
}

func validateService(field string, s *Service) error {
	if err := ValidateName(field+".name", s.Name); err != nil {
		return err
	}
	if len(s.Version) > maxVersionLen || !utf8.ValidString(s.Version) {
		return &FieldError{Field: field + ".version", Reason: fmt.Sprintf("must be at most %d characters of UTF-8", maxVersionLen)}
	}
	if err := validateMetadata(field+".metadata", s.Metadata, maxServiceMetaPairs); err != nil {
		return err
	}
	if metaBytes(s.Metadata) > maxServiceMetaBytes {
		return &FieldError{Field: field + ".metadata", Reason: fmt.Sprintf("must be at most %d bytes", maxServiceMetaBytes)}
	}
	if len(s.Endpoints) > maxEndpoints {
		return &FieldError{Field: field + ".endpoints", Reason: fmt.Sprintf("must be at most %d", maxEndpoints)}
	}
	for i, ep := range s.Endpoints {
		if err := validateEndpoint(fmt.Sprintf("%s.endpoints[%d]", field, i), ep); err != nil {
			return err
		}
	}
	return validateNodes(field+".nodes", s.Nodes)
}

func validateEndpoint(field string, ep Endpoint) error {
	for _, f := range []struct{ name, value string }{{"name", ep.Name}, {"request", ep.Request}, {"response", ep.Response}} {
		if len(f.value) > maxEndpointFieldLen {
			return &FieldError{Field: field + "." + f.name, Reason: fmt.Sprintf("must be at most %d characters", maxEndpointFieldLen)}
		}
	}
	if ep.Name == "" {
		return &FieldError{Field: field + ".name", Reason: "is required"}
	}
	return validateMetadata(field+".metadata", ep.Metadata, maxMetaPairs)
}

func validateNodes(field string, nodes []Node) error {
	if len(nodes) > maxNodes {
		return &FieldError{Field: field, Reason: fmt.Sprintf("must be at most %d per registration", maxNodes)}
	}
	seen := make(map[string]bool, len(nodes))
	for i, n := range nodes {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !nodeIDRE.MatchString(n.ID) {
			return &FieldError{Field: f + ".id", Reason: "must be 1 to 128 characters of [A-Za-z0-9._:-]"}
		}
		if seen[n.ID] {
			return &FieldError{Field: f + ".id", Reason: "is repeated"}
		}
		seen[n.ID] = true
		if err := validateAddress(f+".address", n.Address); err != nil {
			return err
		}
		if err := validateMetadata(f+".metadata", n.Metadata, maxMetaPairs); err != nil {
			return err
		}
	}
	return nil
}

// validateAddress accepts host:port with a numeric port; the address is
// dialled by the proxy, so anything else would only fail later.
func validateAddress(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return &FieldError{Field: field, Reason: "must be host:port"}
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return &FieldError{Field: field, Reason: "must have a port from 1 to 65535"}
	}
	return nil
}

func validateMetadata(field string, m map[string]string, maxPairs int) error {
	if len(m) > maxPairs {
		return &FieldError{Field: field, Reason: fmt.Sprintf("must have at most %d pairs", maxPairs)}
	}
	for k := range m {
		if k == "" {
			return &FieldError{Field: field, Reason: "keys must not be empty"}
		}
	}
	return nil
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
	ttl, err := ValidateTTL("ttl_seconds", req.GetTtlSeconds())
	if err != nil {
		return "", nil, 0, err
	}
	svc := fromProto(req.GetService())
	if err := ValidateRegistration("service", svc); err != nil {
		return "", nil, 0, err
	}
	return domain, svc, ttl, nil
}

// validateDeregister checks a Deregister call.
func validateDeregister(ctx context.Context, req *registryv1.DeregisterRequest) (string, *Service, error) {
	domain, err := domainFor(ctx, "domain", req.GetDomain(), write)
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
