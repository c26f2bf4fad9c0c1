package auth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid argument")

// Limits from the protos.
const (
	maxName       = 254
	maxRoles      = 16
	maxMetaPairs  = 32
	maxMetaBytes  = 4 << 10
	maxTokenBytes = 8 << 10
	maxPattern    = 256
	maxPageSize   = 1000
	// defaultPageSize is the page size of a List that asks for none.
	defaultPageSize = 100
	maxEmail        = 254
)

var (
	namespacePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{2,39}$`)
	rolePattern      = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	ruleIDPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	// resourcePattern admits the characters of proto service and method
	// names, plus "*" and "/" and "-" for user services' names.
	resourcePattern = regexp.MustCompile(`^[A-Za-z0-9_.*/-]+$`)
)

// InvalidError lists what is wrong with a request, field by field.
type InvalidError struct {
	// Violations are the fields at fault and why.
	Violations []*errdetails.BadRequest_FieldViolation
}

// Error implements error.
func (e *InvalidError) Error() string {
	parts := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		parts = append(parts, v.GetField()+" "+v.GetDescription())
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// invalid returns an InvalidError with one violation.
func invalid(field, description string) error {
	return &InvalidError{Violations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}}}
}

// checker collects violations.
type checker struct {
	v []*errdetails.BadRequest_FieldViolation
}

func (c *checker) fail(field, format string, args ...any) {
	c.v = append(c.v, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

func (c *checker) err() error {
	if len(c.v) == 0 {
		return nil
	}
	return &InvalidError{Violations: c.v}
}

// namespace checks an optional namespace field.
func (c *checker) namespace(field, ns string) {
	if ns != "" && !namespacePattern.MatchString(ns) {
		c.fail(field, "must match %s", namespacePattern)
	}
}

// name checks an account name, id or reference: 1 to 254 characters of
// UTF-8 without control characters.
func (c *checker) name(field, s string, required bool) {
	switch {
	case s == "" && required:
		c.fail(field, "is required")
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxName:
		c.fail(field, "must be at most %d characters of UTF-8", maxName)
	case strings.IndexFunc(s, unicode.IsControl) >= 0 || strings.TrimSpace(s) != s:
		c.fail(field, "must not contain control characters or surrounding spaces")
	}
}

// secret checks a secret's length; newly set secrets have a minimum.
func (c *checker) secret(field, s string, isNew bool) {
	switch {
	case isNew && len(s) < minSecret:
		c.fail(field, "must be at least %d bytes", minSecret)
	case len(s) > maxSecret:
		c.fail(field, "must be at most %d bytes", maxSecret)
	}
}

func (c *checker) roles(field string, roles []string) {
	if len(roles) > maxRoles {
		c.fail(field, "must hold at most %d roles", maxRoles)
	}
	for i, r := range roles {
		if !rolePattern.MatchString(r) {
			c.fail(fmt.Sprintf("%s[%d]", field, i), "must match %s", rolePattern)
		}
	}
}

func (c *checker) metadata(field string, md map[string]string) {
	size := 0
	for k, v := range md {
		size += len(k) + len(v)
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			c.fail(field, "keys must be non-empty and keys and values UTF-8")
			return
		}
	}
	if len(md) > maxMetaPairs || size > maxMetaBytes {
		c.fail(field, "must be at most %d pairs and %d bytes", maxMetaPairs, maxMetaBytes)
	}
}

func (c *checker) resource(field string, r *authv1.Resource) {
	for _, f := range []struct{ name, value string }{
		{"type", r.GetType()}, {"name", r.GetName()}, {"endpoint", r.GetEndpoint()},
	} {
		if len(f.value) > maxPattern || !resourcePattern.MatchString(f.value) {
			c.fail(field+"."+f.name, "must be 1 to %d characters of letters, digits and _.*/-", maxPattern)
		}
	}
}

func (c *checker) email(field, email string) {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || len(email) > maxEmail || !utf8.ValidString(email) ||
		strings.ContainsAny(email, " \t\r\n") || strings.Contains(domain, "@") {
		c.fail(field, "must be an email address of at most %d characters", maxEmail)
	}
}

func validateToken(r *authv1.TokenRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	if r.GetRefreshToken() != "" {
		if r.GetId() != "" || r.GetSecret() != "" {
			c.fail("refresh_token", "cannot be combined with id and secret")
		}
		if len(r.GetRefreshToken()) > maxTokenBytes {
			c.fail("refresh_token", "must be at most %d bytes", maxTokenBytes)
		}
	} else {
		c.name("id", r.GetId(), true)
		c.secret("secret", r.GetSecret(), false)
		if r.GetSecret() == "" {
			c.fail("secret", "is required")
		}
	}
	if r.GetTtlSeconds() > uint32(MaxAccessTTL.Seconds()) {
		c.fail("ttl_seconds", "must be at most %d", uint32(MaxAccessTTL.Seconds()))
	}
	return c.err()
}

func validateInspect(r *authv1.InspectRequest) error {
	var c checker
	if r.GetToken() == "" || len(r.GetToken()) > maxTokenBytes {
		c.fail("token", "must be 1 to %d bytes", maxTokenBytes)
	}
	return c.err()
}

func validateRevoke(r *authv1.RevokeRequest) error {
	var c checker
	switch {
	case (r.GetRefreshToken() == "") == (r.GetAccountId() == ""):
		c.fail("refresh_token", "exactly one of refresh_token and account_id must be set")
	case r.GetRefreshToken() != "" && r.GetNamespace() != "":
		c.fail("namespace", "goes only with account_id")
	case len(r.GetRefreshToken()) > maxTokenBytes:
		c.fail("refresh_token", "must be at most %d bytes", maxTokenBytes)
	}
	c.namespace("namespace", r.GetNamespace())
	c.name("account_id", r.GetAccountId(), false)
	return c.err()
}

func validateCreate(r *authv1.CreateRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	c.name("name", r.GetName(), true)
	c.secret("secret", r.GetSecret(), true)
	if _, ok := authv1.AccountType_name[int32(r.GetType())]; !ok {
		c.fail("type", "is not an account type")
	}
	c.roles("roles", r.GetRoles())
	c.metadata("metadata", r.GetMetadata())
	return c.err()
}

// validateRef checks the namespace and id of Get, Delete and Disable.
func validateRef(namespace, id string) error {
	var c checker
	c.namespace("namespace", namespace)
	c.name("id", id, true)
	return c.err()
}

func validateList(r *authv1.ListRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	if r.GetPageSize() > maxPageSize {
		c.fail("page_size", "must be at most %d", maxPageSize)
	}
	if len(r.GetPageToken()) > maxTokenBytes {
		c.fail("page_token", "must be at most %d bytes", maxTokenBytes)
	}
	return c.err()
}

func validateChangeSecret(r *authv1.ChangeSecretRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	c.name("id", r.GetId(), true)
	c.secret("old_secret", r.GetOldSecret(), false)
	c.secret("new_secret", r.GetNewSecret(), true)
	return c.err()
}

func validateRule(r *authv1.Rule) error {
	var c checker
	if r == nil {
		c.fail("rule", "is required")
		return c.err()
	}
	c.namespace("rule.namespace", r.GetNamespace())
	switch id := r.GetId(); {
	case id != "" && !ruleIDPattern.MatchString(id):
		c.fail("rule.id", "must match %s", ruleIDPattern)
	case rules.IsBuiltinID(id):
		c.fail("rule.id", "must not start with %q, which marks built-in rules", rules.BuiltinPrefix)
	}
	if s := r.GetScope(); s != rules.ScopePublic && s != rules.ScopeAccounts && !rolePattern.MatchString(s) {
		c.fail("rule.scope", "must be empty (public), \"*\" (any account) or a role")
	}
	c.resource("rule.resource", r.GetResource())
	if a := r.GetAccess(); a != authv1.Access_ACCESS_GRANT && a != authv1.Access_ACCESS_DENY {
		c.fail("rule.access", "must be GRANT or DENY")
	}
	if p := r.GetPriority(); p < rules.MinPriority || p > rules.MaxPriority {
		c.fail("rule.priority", "must be from %d to %d; the built-in rules rank above", rules.MinPriority, rules.MaxPriority)
	}
	if r.GetBuiltin() {
		c.fail("rule.builtin", "must be false: only the platform installs built-in rules")
	}
	return c.err()
}

func validateRulesDelete(r *authv1.RulesServiceDeleteRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	if r.GetId() == "" || len(r.GetId()) > 64 {
		c.fail("id", "must be 1 to 64 characters")
	}
	return c.err()
}

func validateRulesList(r *authv1.RulesServiceListRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	return c.err()
}

func validateExplain(r *authv1.ExplainRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	c.name("account", r.GetAccount(), false)
	c.resource("resource", r.GetResource())
	return c.err()
}

func validateEmail(email string) error {
	var c checker
	c.email("email", email)
	return c.err()
}
