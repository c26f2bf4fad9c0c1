package config

import (
	"context"
	"fmt"
	"regexp"

	"m3o.dev/pkg/identity"
	configv1 "m3o.dev/proto/m3o/config/v1"
)

// namespacePattern is the platform's namespace grammar (DESIGN.md §4).
var namespacePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{2,39}$`)

// target is what a request acts on, established from verified facts only.
type target struct {
	// ns is the namespace whose document is read or changed.
	ns string
	// path is the parsed path within the document.
	path Path
	// author names the caller in history.
	author string
	// caller is the verified identity behind the request.
	caller identity.Caller
}

// validateTarget checks who is calling, which namespace they may act on and
// the path they name. Every RPC starts here.
func validateTarget(ctx context.Context, namespace, path string) (target, error) {
	c, ok := identity.FromContext(ctx)
	if !ok || c.Namespace == "" {
		return target{}, fmt.Errorf("no verified caller: %w", ErrUnauthenticated)
	}
	ns, err := resolveNamespace(c, namespace)
	if err != nil {
		return target{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return target{}, err
	}
	return target{ns: ns, path: p, author: c.String(), caller: c}, nil
}

// resolveNamespace returns the namespace a caller acts on: its own, unless it
// is an admin of micro naming another explicitly. The namespace never comes
// from the request otherwise, so a tenant cannot even name another's.
func resolveNamespace(c identity.Caller, asked string) (string, error) {
	if asked == "" || asked == c.Namespace {
		return c.Namespace, nil
	}
	if !c.IsAdmin() {
		return "", fmt.Errorf("%s may not use namespace %q: %w", c, asked, ErrPermissionDenied)
	}
	if !namespacePattern.MatchString(asked) {
		return "", &FieldError{Field: "namespace", Reason: fmt.Sprintf("namespace must match %s", namespacePattern)}
	}
	return asked, nil
}

// mayReveal reports whether c may read ns's secrets in plaintext: an account
// or service of ns, or an admin of micro.
func mayReveal(c identity.Caller, ns string) error {
	if c.Namespace == ns || c.IsAdmin() {
		return nil
	}
	return fmt.Errorf("%s may not reveal the secrets of %q: %w", c, ns, ErrPermissionDenied)
}

// validateGet checks a Get, including the right to see secrets it asks for.
func validateGet(ctx context.Context, req *configv1.GetRequest) (target, error) {
	t, err := validateTarget(ctx, req.GetNamespace(), req.GetPath())
	if err != nil {
		return target{}, err
	}
	if req.GetSecret() {
		if err := mayReveal(t.caller, t.ns); err != nil {
			return target{}, err
		}
	}
	return t, nil
}

// validateSet checks a Set and parses its value.
func validateSet(ctx context.Context, req *configv1.SetRequest) (target, any, error) {
	t, err := validateTarget(ctx, req.GetNamespace(), req.GetPath())
	if err != nil {
		return target{}, nil, err
	}
	// The document could never hold a value this big; say so before reading it.
	if n := len(req.GetValue()); n > MaxDocumentBytes {
		return target{}, nil, &FieldError{Field: "value", Reason: fmt.Sprintf(
			"value is %d bytes, over the document limit of %d", n, MaxDocumentBytes)}
	}
	v := parseValue(req.GetValue())
	if hasReservedKey(v) {
		return target{}, nil, &FieldError{Field: "value", Reason: fmt.Sprintf("value uses the reserved key %q", secretKey)}
	}
	if _, ok := object(v); len(t.path) == 0 && !ok {
		return target{}, nil, &FieldError{Field: "value", Reason: "value for the whole document (an empty path) must be a JSON object"}
	}
	return t, v, nil
}

// validateRollback checks a Rollback.
func validateRollback(ctx context.Context, req *configv1.RollbackRequest) (target, error) {
	t, err := validateTarget(ctx, req.GetNamespace(), "")
	if err != nil {
		return target{}, err
	}
	if req.GetVersion() == 0 {
		return target{}, &FieldError{Field: "version", Reason: "version must be at least 1"}
	}
	return t, nil
}
