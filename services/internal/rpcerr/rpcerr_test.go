package rpcerr_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
)

var (
	errGone  = errors.New("gone")
	errDown  = errors.New("database down")
	errTaken = errors.New("taken")
)

func TestStatus(t *testing.T) {
	var logs strings.Builder
	m := rpcerr.Mapper{
		Service: "demo",
		Log:     slog.New(slog.NewTextHandler(&logs, nil)),
		Rules: []rpcerr.Rule{
			{Err: errGone, Code: codes.NotFound},
			{Err: errTaken, Code: codes.AlreadyExists, Trim: true},
			{Err: errDown, Code: codes.Unavailable, Message: "The demo database is unavailable; try again."},
			{Err: rpcerr.ErrPermissionDenied, Code: codes.PermissionDenied, Status: func(error) error {
				return status.Error(codes.PermissionDenied, "own words")
			}},
		},
	}
	tests := []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"bad input", invalid.Field("key", "must not be empty"), codes.InvalidArgument, "key: must not be empty"},
		{"rule, error's text", fmt.Errorf("record k: %w", errGone), codes.NotFound, "record k: gone"},
		{"rule, trimmed text", fmt.Errorf("the name %q is in use: %w", "k", errTaken), codes.AlreadyExists, `the name "k" is in use`},
		{"rule, trimmed, nothing before", errTaken, codes.AlreadyExists, "taken"},
		{"rule, fixed message", fmt.Errorf("dial 10.0.0.7:5432: %w", errDown), codes.Unavailable, "The demo database is unavailable; try again."},
		{"rule before shared", rpcerr.ErrPermissionDenied, codes.PermissionDenied, "own words"},
		{"shared unauthenticated", fmt.Errorf("no token: %w", rpcerr.ErrUnauthenticated), codes.Unauthenticated, "This call needs a verified identity."},
		{"canceled", context.Canceled, codes.Canceled, "The call was canceled."},
		{"deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "The call ran out of time."},
		{"unexpected", errors.New("pq: relation secret_table missing"), codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(m.Status(context.Background(), tt.err))
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Errorf("Status(%v) = %s %q, want %s %q", tt.err, st.Code(), st.Message(), tt.code, tt.msg)
			}
		})
	}
	if m.Status(context.Background(), nil) != nil {
		t.Error("Status(nil) is not nil")
	}
	for _, want := range []string{"demo unavailable", "10.0.0.7:5432", "demo internal error", "secret_table"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestSharedPermissionDenied checks that a refusal says why without the
// sentinel's words, which the code already says.
func TestSharedPermissionDenied(t *testing.T) {
	m := rpcerr.Mapper{Service: "demo", Log: slog.New(slog.DiscardHandler)}
	err := fmt.Errorf("demo/ACCT may not use namespace %q: %w", "other", rpcerr.ErrPermissionDenied)
	st := status.Convert(m.Status(context.Background(), err))
	if want := `demo/ACCT may not use namespace "other"`; st.Code() != codes.PermissionDenied || st.Message() != want {
		t.Errorf("Status(%v) = %s %q, want PermissionDenied %q", err, st.Code(), st.Message(), want)
	}
}
