package registry

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/invalid"
)

// toStatus maps a domain error to the gRPC status the client sees. It is
// the only place where codes are chosen. Anything unexpected is logged here,
// under op, and reaches the client only as a generic Internal.
func (s *Server) toStatus(ctx context.Context, op string, err error) error {
	if st, ok := invalid.Status(err); ok {
		return st
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, "service not found")
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "no verified identity")
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "call canceled")
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, ErrUnavailable):
		s.log.WarnContext(ctx, "registry storage unavailable", "op", op, "error", err)
		return status.Error(codes.Unavailable, "registry storage unavailable, retry")
	}
	s.log.ErrorContext(ctx, "registry call failed", "op", op, "error", err)
	return status.Error(codes.Internal, "internal error")
}

// discardLogger is used when New is given no logger.
var discardLogger = slog.New(slog.DiscardHandler)
