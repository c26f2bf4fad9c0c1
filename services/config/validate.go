package config

import (
	"context"
	"errors"
	"fmt"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	configv1 "m3o.dev/proto/m3o/config/v1"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
)

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
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return target{}, err
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
	if platform.ValidNamespace(asked) != nil {
		return "", invalid.Field("namespace", "must be %s", platform.NamespaceRule)
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

// validateSet checks a Set and parses its value, reporting a bad path and
// a bad value together.
func validateSet(ctx context.Context, req *configv1.SetRequest) (target, any, error) {
	t, err := validateTarget(ctx, req.GetNamespace(), req.GetPath())
	if err != nil && !errors.Is(err, invalid.ErrInvalid) {
		return target{}, nil, err
	}
	var c invalid.Checker
	c.Check("path", err)
	v := checkValue(&c, req.GetValue())
	if _, ok := object(v); err == nil && len(t.path) == 0 && !ok {
		c.Addf("value", "for the whole document (an empty path) must be a JSON object")
	}
	return t, v, c.Err()
}

// checkValue parses a Set's value, recording what makes it unusable.
func checkValue(c *invalid.Checker, raw string) any {
	// The document could never hold a value this big; say so before reading it.
	if n := len(raw); n > MaxDocumentBytes {
		c.Addf("value", "is %d bytes, over the document limit of %d", n, MaxDocumentBytes)
		return nil
	}
	v := parseValue(raw)
	if hasReservedKey(v) {
		c.Addf("value", "uses the reserved key %q", secretKey)
	}
	return v
}

// validateRollback checks a Rollback.
func validateRollback(ctx context.Context, req *configv1.RollbackRequest) (target, error) {
	t, err := validateTarget(ctx, req.GetNamespace(), "")
	if err != nil {
		return target{}, err
	}
	if req.GetVersion() == 0 {
		return target{}, invalid.Field("version", "must be at least 1")
	}
	return t, nil
}
