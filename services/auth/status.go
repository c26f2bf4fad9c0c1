package auth

import (
	"context"
	"strings"
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

// message is err's text for the caller without the sentinel's own words at
// its end: the code already says them.
func message(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}

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
		trimmed(ErrPermissionDenied, codes.PermissionDenied),
		trimmed(ErrNotFound, codes.NotFound),
		trimmed(ErrAlreadyExists, codes.AlreadyExists),
		trimmed(ErrBuiltin, codes.FailedPrecondition),
		trimmed(ErrFailedPrecondition, codes.FailedPrecondition),
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

// trimmed maps sentinel to code with the error's text less the sentinel's
// own words, which the code already says.
func trimmed(sentinel error, code codes.Code) rpcerr.Rule {
	return rpcerr.Rule{Err: sentinel, Code: code, Status: func(err error) error {
		return status.Error(code, message(err, sentinel))
	}}
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
			text = message(err, ErrTooManyRequests)
		}
		st, derr := status.New(codes.ResourceExhausted, text).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
		if derr != nil {
			return status.Error(codes.ResourceExhausted, text)
		}
		return st.Err()
	}
}
