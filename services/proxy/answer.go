package proxy

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// What a public caller reads for the codes whose message may come from the
// transport rather than from the service: an address inside the platform,
// or an error chain, never leaves it.
var publicMessages = map[codes.Code]string{
	codes.Unavailable:      "The service is unavailable; try again.",
	codes.DeadlineExceeded: "The call ran out of time.",
	codes.Canceled:         "The call was canceled.",
	codes.Internal:         "internal error",
	codes.Unknown:          "internal error",
	codes.DataLoss:         "internal error",
}

// answer decides what a forwarded call's outcome tells its public caller.
// A service's own answer (not found, invalid argument, denied, ...) goes
// back as it is, with its details: the services compose those messages for
// callers. For the codes the transport also produces, the caller gets the
// code and a fixed sentence, and the original goes to the log.
func (p *Proxy) answer(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	public, rewrite := publicMessages[st.Code()]
	if !rewrite || st.Message() == public {
		return err
	}
	p.log.LogAttrs(ctx, slog.LevelWarn, "call failed upstream",
		slog.String("method", method), slog.String("code", st.Code().String()), slog.String("error", st.Message()))
	return status.Error(st.Code(), public)
}
