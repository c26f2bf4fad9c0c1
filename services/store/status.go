package store

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"m3o.dev/services/internal/invalid"
)

// Detail values clients may rely on.
const (
	// ErrorDomain is the domain of the service's errdetails.ErrorInfo.
	ErrorDomain = "store.m3o.dev"
	// ReasonVersionMismatch is the ErrorInfo reason of a failed
	// compare-and-set; its metadata holds "current_version".
	ReasonVersionMismatch = "VERSION_MISMATCH"
)

// status is the only place that chooses gRPC codes. Messages never carry a
// backend's words: an unexpected error is logged here, in full, and the
// client learns only that it happened.
func (s *Service) status(ctx context.Context, err error) error {
	if st, ok := invalid.Status(err); ok {
		return st
	}
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict):
		return conflictStatus(conflict)
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, "record not found")
	case errors.Is(err, ErrQuotaExceeded):
		return quotaStatus()
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, "the caller may not open this database")
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "no verified identity")
	case errors.Is(err, ErrUnavailable):
		s.log.WarnContext(ctx, "store backend unavailable", "error", err)
		return status.Error(codes.Unavailable, "The store's database is unavailable; try again.")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "call cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	method, _ := grpc.Method(ctx)
	s.log.ErrorContext(ctx, "store call failed", "method", method, "error", err)
	return status.Error(codes.Internal, "internal error")
}

// conflictStatus is Aborted carrying the record's current version.
func conflictStatus(e *ConflictError) error {
	info := &errdetails.ErrorInfo{
		Reason:   ReasonVersionMismatch,
		Domain:   ErrorDomain,
		Metadata: map[string]string{"current_version": strconv.FormatUint(e.Current, 10)},
	}
	return withDetails(status.New(codes.Aborted, e.Error()), info)
}

// quotaStatus is ResourceExhausted naming the quota.
func quotaStatus() error {
	qf := &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
		Subject:     "database",
		Description: "the write would take the database past its byte quota",
	}}}
	return withDetails(status.New(codes.ResourceExhausted, "byte quota exceeded"), qf)
}

// withDetails attaches detail to st; the bare status is still right if
// that fails.
func withDetails(st *status.Status, detail protoadapt.MessageV1) error {
	if d, err := st.WithDetails(detail); err == nil {
		return d.Err()
	}
	return st.Err()
}
