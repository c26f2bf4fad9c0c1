package config

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/rpcerr"
)

// statusRules are config's own errors; rpcerr maps bad input and the
// errors every service shares.
var statusRules = []rpcerr.Rule{
	{Err: ErrNotFound, Code: codes.NotFound, Status: notFoundStatus},
	{Err: ErrConflict, Code: codes.Aborted},
	{Err: ErrUnavailable, Code: codes.Unavailable, Message: "The config store is unavailable; try again."},
}

// toStatus is the status the caller of the RPC in ctx receives for err.
func (s *Service) toStatus(ctx context.Context, err error) error {
	return rpcerr.Mapper{Service: "config", Log: s.log, Rules: statusRules}.Status(ctx, err)
}

// notFoundStatus is NotFound with the sentence that says what is missing,
// without the steps that led there.
func notFoundStatus(err error) error {
	var nf notFound
	if errors.As(err, &nf) {
		return status.Error(codes.NotFound, nf.sentence)
	}
	return status.Error(codes.NotFound, err.Error())
}
