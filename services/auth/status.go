package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"m3o.dev/services/internal/invalid"
)

// Fixed messages for errors whose detail the caller must not learn.
const (
	msgBadCredentials  = "invalid credentials"
	msgRateLimited     = "too many failed logins from this address; try again in a minute"
	msgUnauthenticated = "the token is invalid, expired or revoked; log in again"
	msgUnavailable     = "the auth service cannot reach its store; try again"
	msgBillingDown     = "billing cannot be reached; try again in a minute"
	msgStopping        = "this auth replica is stopping; watch again"
	msgInternal        = "internal error"
)

// message is err's text for the caller without the sentinel's own words at
// its end: the code already says them.
func message(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}

// toStatus is the one place that chooses gRPC codes. Domain errors map by
// errors.Is; anything unexpected is logged here and reaches the client as
// Internal with a generic message. Messages of the remaining codes are
// composed by this package and name only what the caller sent.
func (s *Service) toStatus(ctx context.Context, err error) error {
	if st, ok := invalid.Status(err); ok {
		return st
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrBadCredentials):
		return status.Error(codes.Unauthenticated, msgBadCredentials)
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, msgUnauthenticated)
	case errors.Is(err, ErrRateLimited):
		return retryAfter(msgRateLimited, s.cfg.FailureWindow)
	case errors.Is(err, ErrBadCode), errors.Is(err, ErrBadSignupToken):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, ErrTooManyRequests):
		return retryAfter(message(err, ErrTooManyRequests), s.cfg.Signup.SendWindow)
	case errors.Is(err, ErrSignupOff):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, message(err, ErrPermissionDenied))
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, message(err, ErrNotFound))
	case errors.Is(err, ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, message(err, ErrAlreadyExists))
	case errors.Is(err, ErrBuiltin):
		return status.Error(codes.FailedPrecondition, message(err, ErrBuiltin))
	case errors.Is(err, ErrFailedPrecondition):
		return status.Error(codes.FailedPrecondition, message(err, ErrFailedPrecondition))
	case errors.Is(err, ErrConflict):
		return status.Error(codes.Aborted, "a concurrent update won; retry")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the call was canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the call's deadline passed")
	case errors.Is(err, errStopping):
		return status.Error(codes.Unavailable, msgStopping)
	case errors.Is(err, ErrUnavailable):
		s.logger.WarnContext(ctx, "store unavailable", slog.Any("error", err))
		return status.Error(codes.Unavailable, msgUnavailable)
	case errors.Is(err, errBillingUnavailable):
		s.logger.WarnContext(ctx, "billing unavailable", slog.Any("error", err))
		return status.Error(codes.Unavailable, msgBillingDown)
	default:
		s.logger.ErrorContext(ctx, "unexpected error", slog.Any("error", err))
		return status.Error(codes.Internal, msgInternal)
	}
}

// retryAfter is ResourceExhausted for a limit that lifts after wait: its
// RetryInfo tells clients when to try again, and the gateway answers 429
// rather than 413, which a bare ResourceExhausted (a message too large)
// gets.
func retryAfter(msg string, wait time.Duration) error {
	st, err := status.New(codes.ResourceExhausted, msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
	if err != nil {
		return status.Error(codes.ResourceExhausted, msg)
	}
	return st.Err()
}
