package auth

import (
	"context"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"m3o.dev/services/internal/rpcerr"
)

// Fixed messages for errors whose detail the caller must not learn.
const (
	msgBadCredentials  = "invalid credentials"
	msgRateLimited     = "too many failed logins from this address; try again in a minute"
	msgUnauthenticated = "the token is invalid, expired or revoked; log in again"
	msgUnavailable     = "the auth service cannot reach its store; try again"
	msgBillingDown     = "billing cannot be reached; try again in a minute"
	msgStopping        = "this auth replica is stopping; watch again"
)

// statusRules are auth's own errors; rpcerr maps bad input and the errors
// every service shares. Messages are composed by this package and name only
// what the caller sent.
func (s *Service) statusRules() []rpcerr.Rule {
	return []rpcerr.Rule{
		{Err: ErrBadCredentials, Code: codes.Unauthenticated, Message: msgBadCredentials},
		{Err: ErrUnauthenticated, Code: codes.Unauthenticated, Message: msgUnauthenticated},
		{Err: ErrRateLimited, Code: codes.ResourceExhausted, Status: retryAfter(s.cfg.FailureWindow, msgRateLimited)},
		{Err: ErrBadCode, Code: codes.Unauthenticated},
		{Err: ErrBadSignupToken, Code: codes.Unauthenticated},
		{Err: ErrTooManyRequests, Code: codes.ResourceExhausted, Status: retryAfter(s.cfg.Signup.SendWindow, "")},
		{Err: ErrSignupOff, Code: codes.FailedPrecondition},
		{Err: ErrResetOff, Code: codes.FailedPrecondition},
		{Err: ErrNotFound, Code: codes.NotFound, Trim: true},
		{Err: ErrAlreadyExists, Code: codes.AlreadyExists, Trim: true},
		{Err: ErrBuiltin, Code: codes.FailedPrecondition, Trim: true},
		{Err: ErrFailedPrecondition, Code: codes.FailedPrecondition, Trim: true},
		{Err: ErrConflict, Code: codes.Aborted, Message: "a concurrent update won; retry"},
		{Err: errStopping, Code: codes.Unavailable, Message: msgStopping},
		{Err: ErrUnavailable, Code: codes.Unavailable, Message: msgUnavailable},
		{Err: errBillingUnavailable, Code: codes.Unavailable, Message: msgBillingDown},
	}
}

// toStatus is the status the caller of the RPC in ctx receives for err.
func (s *Service) toStatus(ctx context.Context, err error) error {
	return rpcerr.Mapper{Service: "auth", Log: s.logger, Rules: s.statusRules()}.Status(ctx, err)
}

// retryAfter is ResourceExhausted for a limit that lifts after wait: its
// RetryInfo tells clients when to try again, and the gateway answers 429
// rather than 413, which a bare ResourceExhausted (a message too large)
// gets.
// An empty msg shows the error's text less ErrTooManyRequests' words.
func retryAfter(wait time.Duration, msg string) func(error) error {
	return func(err error) error {
		text := msg
		if text == "" {
			text = rpcerr.Trim(err, ErrTooManyRequests)
		}
		st, derr := status.New(codes.ResourceExhausted, text).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
		if derr != nil {
			return status.Error(codes.ResourceExhausted, text)
		}
		return st.Err()
	}
}
