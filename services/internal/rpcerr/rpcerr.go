// Package rpcerr turns a core service's errors into the statuses its
// callers receive. Every service maps its errors with a Mapper, the one
// place that chooses gRPC codes: bad input (package invalid), the service's
// own rules, then what every service shares: an unauthenticated or
// forbidden caller, a call canceled or out of time, and a generic Internal
// for anything unexpected, which is logged in full and never shown to the
// caller. Every Unavailable is logged as a warning.
package rpcerr

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/invalid"
)

// The errors every service's domain layer shares; a Mapper maps them
// without a rule.
var (
	// ErrUnauthenticated means the call carries no verified identity.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied means the caller may not make this call or name
	// this namespace; the error's text says which, and is shown.
	ErrPermissionDenied = errors.New("permission denied")
)

// Rule gives the errors that match Err (by errors.Is) their status.
type Rule struct {
	Err  error
	Code codes.Code
	// Message is the status's message; empty shows the error's own text,
	// which the domain layer composes from what the caller sent.
	Message string
	// Trim drops Err's own words from the end of the error's text, where
	// the domain layer's sentence ends with them ("no service \"x\" in
	// namespace \"y\": not found"): the code already says them.
	Trim bool
	// Status, when set, builds the whole status instead, for one that
	// carries details.
	Status func(error) error
}

// Mapper maps one service's errors.
type Mapper struct {
	// Service names the service in log lines.
	Service string
	// Log receives the faults, in full.
	Log *slog.Logger
	// Rules are tried in order, after bad input and before the shared
	// errors. A rule whose code is Unavailable also logs a warning: the
	// cause is a dependency the operator may need to look at.
	Rules []Rule
}

// Status is the status a caller of the RPC in ctx receives for err; nil
// for nil.
func (m Mapper) Status(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if st, ok := invalid.Status(err); ok {
		return st
	}
	for _, r := range m.Rules {
		if errors.Is(err, r.Err) {
			return m.apply(ctx, r, err)
		}
	}
	return m.shared(ctx, err)
}

// apply is r's status for err.
func (m Mapper) apply(ctx context.Context, r Rule, err error) error {
	if r.Code == codes.Unavailable {
		m.Log.WarnContext(ctx, m.Service+" unavailable", "method", method(ctx), "error", err)
	}
	switch {
	case r.Status != nil:
		return r.Status(err)
	case r.Message != "":
		return status.Error(r.Code, r.Message)
	case r.Trim:
		return status.Error(r.Code, Trim(err, r.Err))
	}
	return status.Error(r.Code, err.Error())
}

// Trim is err's text less sentinel's words at its end.
func Trim(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}

// shared maps the errors every service has, and logs the rest as faults.
func (m Mapper) shared(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "This call needs a verified identity.")
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, Trim(err, ErrPermissionDenied))
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "The call was canceled.")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "The call ran out of time.")
	}
	m.Log.ErrorContext(ctx, m.Service+" internal error", "method", method(ctx), "error", err)
	return status.Error(codes.Internal, "internal error")
}

// method is the full name of the RPC in ctx, for logs; empty outside one.
func method(ctx context.Context) string {
	name, _ := grpc.Method(ctx)
	return name
}
