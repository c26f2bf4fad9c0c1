package runtime

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/storeclient"
)

// toStatus turns the error of an RPC into the status its caller receives.
// It is the one place that chooses gRPC codes. Unexpected errors are
// logged here, in full, and reach the caller only as a generic Internal.
func (s *Service) toStatus(ctx context.Context, rpc string, err error) error {
	if err == nil {
		return nil
	}
	if st, ok := invalid.Status(err); ok {
		return st
	}
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "This call needs a verified identity.")
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrQuota):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, ErrUnimplemented):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, storeclient.ErrConflict):
		return status.Error(codes.Aborted, "The service changed concurrently; try again.")
	case errors.Is(err, ErrUnavailable), errors.Is(err, storeclient.ErrUnavailable):
		s.log.WarnContext(ctx, "runtime dependency unavailable", "rpc", rpc, "error", err)
		return status.Error(codes.Unavailable, "A service the runtime depends on is unavailable; try again.")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "The call was canceled.")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "The call ran out of time.")
	}
	s.log.ErrorContext(ctx, "runtime internal error", "rpc", rpc, "error", err)
	return status.Error(codes.Internal, "internal error")
}
