package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// refuse logs a call the proxy will not forward and returns its status.
func (p *Proxy) refuse(ctx context.Context, method string, err error) error {
	st := toStatus(err)
	p.log.LogAttrs(ctx, levelFor(st.Code()), "call refused",
		slog.String("method", method), slog.String("code", st.Code().String()), slog.String("error", err.Error()))
	return st.Err()
}

// toStatus is the only place the proxy chooses gRPC codes for its own
// refusals; answers from backends pass through untouched.
func toStatus(err error) *status.Status {
	var limited *rateLimitError
	var unpaid *PaymentRequiredError
	var notRunning *NotRunningError
	var streams *tooManyStreamsError
	switch {
	case errors.As(err, &limited):
		return withRetry(limited.retryAfter)
	case errors.As(err, &streams):
		return tooManyStreams(streams)
	case errors.As(err, &unpaid):
		return paymentRequired(unpaid)
	case errors.As(err, &notRunning):
		return status.New(codes.NotFound, notRunning.Error())
	case errors.Is(err, ErrBadServiceName):
		return status.New(codes.InvalidArgument, "The micro-service header must name one service: lower-case letters, digits and dashes.")
	case errors.Is(err, errKeysNotReady):
		return status.New(codes.Unavailable, "The proxy has not loaded the token keys from auth yet; try again.")
	case errors.Is(err, ErrUnauthenticated):
		return status.New(codes.Unauthenticated, "A valid access token is required: log in and send it as 'authorization: Bearer <token>'.")
	case errors.Is(err, ErrDenied):
		return status.New(codes.PermissionDenied, "The rules of your namespace do not allow this call.")
	case errors.Is(err, ErrUnknownService):
		return status.New(codes.NotFound, "No such service is registered.")
	default:
		if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
			return s
		}
		return status.New(codes.Internal, "The proxy could not forward the call.")
	}
}

func withRetry(after time.Duration) *status.Status {
	st := status.New(codes.ResourceExhausted, "Too many requests: slow down and retry after the delay given.")
	detailed, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)})
	if err != nil {
		return st
	}
	return detailed
}

// paymentRequired is FailedPrecondition with the reason PAYMENT_REQUIRED,
// naming the namespace and its status so the CLI can say what to do.
func paymentRequired(e *PaymentRequiredError) *status.Status {
	st := status.New(codes.FailedPrecondition, fmt.Sprintf(
		"Payment required: the subscription of namespace '%s' is %s; run 'micro billing portal' to pay.", e.Namespace, e.Status))
	detailed, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason: ReasonPaymentRequired, Domain: "m3o.dev",
		Metadata: map[string]string{"namespace": e.Namespace, "status": e.Status},
	})
	if err != nil {
		return st
	}
	return detailed
}

// levelFor keeps routine refusals (bad tokens, denials) out of warnings.
func levelFor(c codes.Code) slog.Level {
	if c == codes.Internal {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// tooManyStreams is ResourceExhausted naming the limit on open streams.
func tooManyStreams(e *tooManyStreamsError) *status.Status {
	st := status.New(codes.ResourceExhausted, "Too many open streams: "+e.Error()+".")
	detailed, err := st.WithDetails(&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
		Subject: "streams", Description: e.Error(),
	}}})
	if err != nil {
		return st
	}
	return detailed
}
