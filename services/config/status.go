package config

import (
	"context"

	"google.golang.org/grpc/codes"

	"m3o.dev/services/internal/rpcerr"
)

// statusRules are config's own errors; rpcerr maps bad input and the
// errors every service shares.
var statusRules = []rpcerr.Rule{
	{Err: ErrNotFound, Code: codes.NotFound},
	{Err: ErrConflict, Code: codes.Aborted},
	{Err: ErrUnavailable, Code: codes.Unavailable, Message: "The config store is unavailable; try again."},
}

// toStatus is the status the caller of the RPC in ctx receives for err.
func (s *Service) toStatus(ctx context.Context, err error) error {
	return rpcerr.Mapper{Service: "config", Log: s.log, Rules: statusRules}.Status(ctx, err)
}
