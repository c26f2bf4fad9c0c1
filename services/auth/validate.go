package auth

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"m3o.dev/pkg/lazyregexp"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/invalid"
)

// ErrInvalid matches every validation error, an *invalid.Error.
var ErrInvalid = invalid.ErrInvalid

// Limits from the protos.
const (
	maxName        = 254
	maxRoles       = 16
	maxMetaPairs   = 32
	maxMetaBytes   = 4 << 10
	maxTokenBytes  = 8 << 10
	maxPattern     = 256
	maxDescription = 256
	maxPageSize    = 1000
	// defaultPageSize is the page size of a List that asks for none.
	defaultPageSize = 100
	maxEmail        = 254
)

var (
	rolePattern   = lazyregexp.New(`^[a-z][a-z0-9_-]{0,31}$`)
	ruleIDPattern = lazyregexp.New(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	// resourcePattern admits the characters of proto service and method
	// names, plus "*" and "/" and "-" for user services' names.
	resourcePattern = lazyregexp.New(`^[A-Za-z0-9_.*/-]+$`)
)

// checker collects every violation of a request, with auth's own field
// checks on top of invalid.Checker.
type checker struct{ invalid.Checker }

// namespace checks an optional namespace field.
func (c *checker) namespace(field, ns string) {
	if ns != "" && platform.ValidNamespace(ns) != nil {
		c.Addf(field, "must be %s", platform.NamespaceRule)
	}
}

// name checks an account name, id or reference: 1 to 254 characters of
// UTF-8 without control characters.
func (c *checker) name(field, s string, required bool) {
	switch {
	case s == "" && required:
		c.Addf(field, "is required")
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxName:
		c.Addf(field, "must be at most %d characters of UTF-8", maxName)
	case strings.IndexFunc(s, unicode.IsControl) >= 0 || strings.TrimSpace(s) != s:
		c.Addf(field, "must not contain control characters or surrounding spaces")
	}
}

// secret checks a secret: a new one by CheckNewSecret, one presented to
// log in by its length alone.
func (c *checker) secret(field, s string, isNew bool) {
	switch {
	case isNew:
		c.Check(field, CheckNewSecret(s))
	case len(s) > maxSecret:
		c.Addf(field, "must be at most %d bytes", maxSecret)
	}
}

// description checks a free-text description: at most 256 characters of
// UTF-8 without control characters.
func (c *checker) description(field, s string) {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxDescription || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		c.Addf(field, "must be at most %d characters of UTF-8 without control characters", maxDescription)
	}
}

func (c *checker) roles(field string, roles []string) {
	if len(roles) > maxRoles {
		c.Addf(field, "must hold at most %d roles", maxRoles)
	}
	for i, r := range roles {
		if !rolePattern.MatchString(r) {
			c.Addf(fmt.Sprintf("%s[%d]", field, i), "must be 1 to 32 lower-case letters, digits, dashes or underscores, starting with a letter")
		}
	}
}

func (c *checker) metadata(field string, md map[string]string) {
	size := 0
	for k, v := range md {
		size += len(k) + len(v)
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			c.Addf(field, "keys must be non-empty and keys and values UTF-8")
			return
		}
	}
	if len(md) > maxMetaPairs || size > maxMetaBytes {
		c.Addf(field, "must be at most %d pairs and %d bytes", maxMetaPairs, maxMetaBytes)
	}
}

func (c *checker) resource(field string, r *authv1.Resource) {
	for _, f := range []struct{ name, value string }{
		{"type", r.GetType()}, {"name", r.GetName()}, {"endpoint", r.GetEndpoint()},
	} {
		if len(f.value) > maxPattern || !resourcePattern.MatchString(f.value) {
			c.Addf(field+"."+f.name, "must be 1 to %d characters of letters, digits and _.*/-", maxPattern)
		}
	}
}

func (c *checker) email(field, email string) {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || len(email) > maxEmail || !utf8.ValidString(email) ||
		strings.ContainsAny(email, " \t\r\n") || strings.Contains(domain, "@") {
		c.Addf(field, "must be an email address of at most %d characters", maxEmail)
	}
}

func validateToken(r *authv1.TokenRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	if r.GetRefreshToken() != "" {
		if r.GetId() != "" || r.GetSecret() != "" {
			c.Addf("refresh_token", "cannot be combined with id and secret")
		}
		if len(r.GetRefreshToken()) > maxTokenBytes {
			c.Addf("refresh_token", "must be at most %d bytes", maxTokenBytes)
		}
	} else {
		c.name("id", r.GetId(), true)
		c.secret("secret", r.GetSecret(), false)
		if r.GetSecret() == "" {
			c.Addf("secret", "is required")
		}
	}
	if r.GetTtlSeconds() > uint32(MaxAccessTTL.Seconds()) {
		c.Addf("ttl_seconds", "must be at most %d", uint32(MaxAccessTTL.Seconds()))
	}
	return c.Err()
}

func validateInspect(r *authv1.InspectRequest) error {
	var c checker
	if r.GetToken() == "" || len(r.GetToken()) > maxTokenBytes {
		c.Addf("token", "must be 1 to %d bytes", maxTokenBytes)
	}
	return c.Err()
}

func validateRevoke(r *authv1.RevokeRequest) error {
	var c checker
	switch {
	case (r.GetRefreshToken() == "") == (r.GetAccountId() == ""):
		c.Addf("refresh_token", "exactly one of refresh_token and account_id must be set")
	case r.GetRefreshToken() != "" && r.GetNamespace() != "":
		c.Addf("namespace", "goes only with account_id")
	case len(r.GetRefreshToken()) > maxTokenBytes:
		c.Addf("refresh_token", "must be at most %d bytes", maxTokenBytes)
	}
	c.namespace("namespace", r.GetNamespace())
	c.name("account_id", r.GetAccountId(), false)
	return c.Err()
}

func validateCreate(r *authv1.CreateRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	c.name("name", r.GetName(), true)
	c.secret("secret", r.GetSecret(), true)
	if _, ok := authv1.AccountType_name[int32(r.GetType())]; !ok {
		c.Addf("type", "is not an account type")
	}
	c.roles("roles", r.GetRoles())
	c.metadata("metadata", r.GetMetadata())
	return c.Err()
}

// validateRef checks the namespace and id of Get, Delete, Disable and
// Enable.
func validateRef(namespace, id string) error {
	var c checker
	c.namespace("namespace", namespace)
	c.name("id", id, true)
	return c.Err()
}

func validateList(r *authv1.ListRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	if r.GetPageSize() > maxPageSize {
		c.Addf("page_size", "must be at most %d", maxPageSize)
	}
	if len(r.GetPageToken()) > maxTokenBytes {
		c.Addf("page_token", "must be at most %d bytes", maxTokenBytes)
	}
	return c.Err()
}

func validateChangeSecret(r *authv1.ChangeSecretRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	c.name("id", r.GetId(), true)
	c.secret("old_secret", r.GetOldSecret(), false)
	c.secret("new_secret", r.GetNewSecret(), true)
	return c.Err()
}

func validateRule(r *authv1.Rule) error {
	var c checker
	if r == nil {
		c.Addf("rule", "is required")
		return c.Err()
	}
	c.namespace("rule.namespace", r.GetNamespace())
	switch id := r.GetId(); {
	case id != "" && !ruleIDPattern.MatchString(id):
		c.Addf("rule.id", "must be 1 to 64 lower-case letters, digits, dashes or underscores, starting with a letter or a digit")
	case rules.IsBuiltinID(id):
		c.Addf("rule.id", "must not start with %q, which marks built-in rules", rules.BuiltinPrefix)
	}
	if s := r.GetScope(); s != rules.ScopePublic && s != rules.ScopeAccounts && !rolePattern.MatchString(s) {
		c.Addf("rule.scope", "must be empty (public), \"*\" (any account) or a role")
	}
	c.resource("rule.resource", r.GetResource())
	if a := r.GetAccess(); a != authv1.Access_ACCESS_GRANT && a != authv1.Access_ACCESS_DENY {
		c.Addf("rule.access", "must be GRANT or DENY")
	}
	if p := r.GetPriority(); p < rules.MinPriority || p > rules.MaxPriority {
		c.Addf("rule.priority", "must be from %d to %d; the built-in rules rank above", rules.MinPriority, rules.MaxPriority)
	}
	if r.GetBuiltin() {
		c.Addf("rule.builtin", "must be false: only the platform installs built-in rules")
	}
	c.description("rule.description", r.GetDescription())
	return c.Err()
}

func validateRulesDelete(r *authv1.RulesServiceDeleteRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	if r.GetId() == "" || len(r.GetId()) > 64 {
		c.Addf("id", "must be 1 to 64 characters")
	}
	return c.Err()
}

func validateRulesList(r *authv1.RulesServiceListRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	return c.Err()
}

func validateRulesWatch(r *authv1.RulesServiceWatchRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	if r.GetAllNamespaces() && r.GetNamespace() != "" {
		c.Addf("namespace", "must be empty with all_namespaces")
	}
	return c.Err()
}

func validateExplain(r *authv1.ExplainRequest) error {
	var c checker
	c.namespace("namespace", r.GetNamespace())
	c.name("account", r.GetAccount(), false)
	c.resource("resource", r.GetResource())
	return c.Err()
}

func validateEmail(email string) error {
	var c checker
	c.email("email", email)
	return c.Err()
}

func validateVerify(email, code string) error {
	var c checker
	c.email("email", email)
	if !validCode(code) {
		c.Addf("code", "must be the %d digits of the mailed code", codeDigits)
	}
	return c.Err()
}

func validateSendPasswordReset(email, namespace string) error {
	var c checker
	c.email("email", email)
	c.namespace("namespace", namespace)
	return c.Err()
}

func validateResetPassword(email string, r *authv1.ResetPasswordRequest) error {
	var c checker
	c.email("email", email)
	c.namespace("namespace", r.GetNamespace())
	if !validCode(r.GetCode()) {
		c.Addf("code", "must be the %d digits of the mailed code", codeDigits)
	}
	c.secret("new_secret", r.GetNewSecret(), true)
	return c.Err()
}

// validateSignupToken checks the sign-up token of StartPayment and
// PaymentStatus.
func validateSignupToken(token string) error {
	var c checker
	c.signupToken(token)
	return c.Err()
}

func validateCompleteSignup(r *authv1.CompleteSignupRequest) error {
	var c checker
	c.signupToken(r.GetSignupToken())
	c.secret("secret", r.GetSecret(), true)
	return c.Err()
}

// signupToken checks a sign-up token field.
func (c *checker) signupToken(token string) {
	if token == "" || len(token) > maxTokenBytes {
		c.Addf("signup_token", "must be the 1 to %d bytes Verify returned", maxTokenBytes)
	}
}
