package store

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"m3o.dev/services/internal/rpcerr"
)

// Detail values clients may rely on.
const (
	// ErrorDomain is the domain of the service's errdetails.ErrorInfo.
	ErrorDomain = "store.m3o.dev"
	// ReasonVersionMismatch is the ErrorInfo reason of a failed
	// compare-and-set; its metadata holds "current_version".
	ReasonVersionMismatch = "VERSION_MISMATCH"
)

// statusRules are the store's own errors; rpcerr maps bad input and the
// errors every service shares. Messages never carry a backend's words.
var statusRules = []rpcerr.Rule{
	{Err: ErrConflict, Code: codes.Aborted, Status: conflictStatus},
	{Err: ErrNotFound, Code: codes.NotFound, Trim: true},
	{Err: ErrQuotaExceeded, Code: codes.ResourceExhausted, Status: quotaStatus},
	{Err: ErrUnavailable, Code: codes.Unavailable, Message: "The store's database is unavailable; try again."},
}

// status is the status the caller of the RPC in ctx receives for err.
func (s *Service) status(ctx context.Context, err error) error {
	return rpcerr.Mapper{Service: "store", Log: s.log, Rules: statusRules}.Status(ctx, err)
}

// conflictStatus is Aborted carrying the record's current version.
func conflictStatus(err error) error {
	var e *ConflictError
	if !errors.As(err, &e) {
		return status.Error(codes.Aborted, err.Error())
	}
	info := &errdetails.ErrorInfo{
		Reason:   ReasonVersionMismatch,
		Domain:   ErrorDomain,
		Metadata: map[string]string{"current_version": strconv.FormatUint(e.Current, 10)},
	}
	return withDetails(status.New(codes.Aborted, e.Error()), info)
}

// quotaStatus is ResourceExhausted naming the quota.
func quotaStatus(error) error {
	qf := &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
		Subject:     "database",
		Description: "the write would take the database past its byte quota",
	}}}
	return withDetails(status.New(codes.ResourceExhausted, "byte quota exceeded"), qf)
}

// withDetails attaches detail to st; the bare status is still right if
// that fails.
func withDetails(st *status.Status, detail protoadapt.MessageV1) error {
	if d, err := st.WithDetails(detail); err == nil {
		return d.Err()
	}
	return st.Err()
}
