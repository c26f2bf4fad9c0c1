package registry

import (
	"context"
	"log/slog"

	"google.golang.org/grpc/codes"

	"m3o.dev/services/internal/rpcerr"
)

// statusRules are the registry's own errors; rpcerr maps bad input and
// the errors every service shares.
var statusRules = []rpcerr.Rule{
	{Err: ErrNotFound, Code: codes.NotFound, Trim: true},
	{Err: ErrUnavailable, Code: codes.Unavailable, Message: "registry storage unavailable, retry"},
}

// toStatus is the status the caller of the RPC in ctx receives for err.
func (s *Server) toStatus(ctx context.Context, err error) error {
	return rpcerr.Mapper{Service: "registry", Log: s.log, Rules: statusRules}.Status(ctx, err)
}

// discardLogger is used when New is given no logger.
var discardLogger = slog.New(slog.DiscardHandler)
