package billing

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/invalid"
)

// ReasonCardDeclined is the ErrorInfo reason of a declined card; the
// subscribe page answers it with HTTP 402.
const ReasonCardDeclined = "CARD_DECLINED"

// ErrorDomain is the ErrorInfo domain of billing's reasons.
const ErrorDomain = "m3o.dev"

// toStatus turns the error of an RPC into the status its caller receives.
// It is the one place that chooses gRPC codes. Unexpected errors are logged
// here, in full, and reach the caller only as a generic Internal.
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
	case errors.Is(err, ErrDeclined):
		return declined()
	case errors.Is(err, ErrBadSignature):
		return status.Error(codes.InvalidArgument, "The webhook's signature does not verify.")
	case errors.Is(err, ErrNotReady), errors.Is(err, ErrUnsupported):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, ErrProvider), errors.Is(err, ErrUnavailable):
		s.log.WarnContext(ctx, "billing dependency unavailable", "rpc", rpc, "error", err)
		return status.Error(codes.Unavailable, "Billing is unavailable; try again.")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "The call was canceled.")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "The call ran out of time.")
	}
	s.log.ErrorContext(ctx, "billing internal error", "rpc", rpc, "error", err)
	return status.Error(codes.Internal, "internal error")
}

// declined is FailedPrecondition with the reason CARD_DECLINED.
func declined() error {
	st := status.New(codes.FailedPrecondition, "The card was declined: try another card.")
	detailed, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonCardDeclined, Domain: ErrorDomain})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}
