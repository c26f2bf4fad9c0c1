package billing

import (
	"context"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/rpcerr"
)

// ReasonCardDeclined is the ErrorInfo reason of a declined card; the
// subscribe page answers it with HTTP 402.
const ReasonCardDeclined = "CARD_DECLINED"

// ReasonSubscriptionEnded is the ErrorInfo reason of a resume refused
// because the subscription has ended.
const ReasonSubscriptionEnded = "SUBSCRIPTION_ENDED"

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
	{Err: ErrEnded, Code: codes.FailedPrecondition, Status: ended},
	{Err: ErrSetByHand, Code: codes.FailedPrecondition, Trim: true},
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
	return withReason(status.New(codes.FailedPrecondition, "The card was declined: try another card."), ReasonCardDeclined)
}

// ended is FailedPrecondition with the reason SUBSCRIPTION_ENDED, so that
// a client can say how a new subscription starts.
func ended(err error) error {
	msg := strings.TrimSuffix(err.Error(), ": "+ErrEnded.Error())
	return withReason(status.New(codes.FailedPrecondition, msg), ReasonSubscriptionEnded)
}

// withReason adds an ErrorInfo with reason to st.
func withReason(st *status.Status, reason string) error {
	detailed, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}
