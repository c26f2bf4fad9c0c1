package runtime

import (
	"context"

	"google.golang.org/grpc/codes"

	"m3o.dev/services/internal/rpcerr"
	"m3o.dev/services/internal/storeclient"
)

// statusRules are the runtime's own errors; rpcerr maps bad input and the
// errors every service shares.
var statusRules = []rpcerr.Rule{
	{Err: ErrNotFound, Code: codes.NotFound, Trim: true},
	{Err: ErrAlreadyExists, Code: codes.AlreadyExists, Trim: true},
	{Err: ErrQuota, Code: codes.ResourceExhausted},
	{Err: ErrUnimplemented, Code: codes.Unimplemented},
	{Err: storeclient.ErrConflict, Code: codes.Aborted, Message: "The service changed concurrently; try again."},
	{Err: ErrUnavailable, Code: codes.Unavailable, Message: msgUnavailable},
	{Err: storeclient.ErrUnavailable, Code: codes.Unavailable, Message: msgUnavailable},
}

const msgUnavailable = "A service the runtime depends on is unavailable; try again."

// toStatus is the status the caller of the RPC in ctx receives for err.
func (s *Service) toStatus(ctx context.Context, err error) error {
	return rpcerr.Mapper{Service: "runtime", Log: s.log, Rules: statusRules}.Status(ctx, err)
}
