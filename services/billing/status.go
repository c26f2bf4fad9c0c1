package billing

import (
	"context"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/rpcerr"
)

// ReasonCardDeclined is the ErrorInfo reason of a declined card; the
// subscribe page answers it with HTTP 402.
const ReasonCardDeclined = "CARD_DECLINED"

// ErrorDomain is the ErrorInfo domain of billing's reasons.
const ErrorDomain = "m3o.dev"

// statusRules are billing's own errors; rpcerr maps bad input and the
// errors every service shares.
var statusRules = []rpcerr.Rule{
	{Err: ErrNotFound, Code: codes.NotFound, Trim: true},
	{Err: ErrAlreadyExists, Code: codes.AlreadyExists, Trim: true},
	{Err: ErrDeclined, Code: codes.FailedPrecondition, Status: declined},
	{Err: ErrBadSignature, Code: codes.InvalidArgument, Message: "The webhook's signature does not verify."},
	{Err: ErrNotReady, Code: codes.FailedPrecondition},
	{Err: ErrUnsupported, Code: codes.FailedPrecondition},
	{Err: ErrConflict, Code: codes.Aborted},
	{Err: ErrProvider, Code: codes.Unavailable, Message: msgUnavailable},
	{Err: ErrUnavailable, Code: codes.Unavailable, Message: msgUnavailable},
}

const msgUnavailable = "Billing is unavailable; try again."

// toStatus is the status the caller of the RPC in ctx receives for err.
func (s *Service) toStatus(ctx context.Context, err error) error {
	return rpcerr.Mapper{Service: "billing", Log: s.log, Rules: statusRules}.Status(ctx, err)
}

// declined is FailedPrecondition with the reason CARD_DECLINED.
func declined(error) error {
	st := status.New(codes.FailedPrecondition, "The card was declined: try another card.")
	detailed, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonCardDeclined, Domain: ErrorDomain})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}
