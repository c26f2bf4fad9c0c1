package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/services/internal/invalid"
)

func TestToStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"not found", fmt.Errorf("get x: %w", ErrNotFound), codes.NotFound},
		{"field error", fmt.Errorf("register: %w", invalid.Field("service.name", "bad")), codes.InvalidArgument},
		{"unauthenticated", ErrUnauthenticated, codes.Unauthenticated},
		{"permission", fmt.Errorf("domain: %w", ErrPermissionDenied), codes.PermissionDenied},
		{"unavailable", fmt.Errorf("register: %w: dial tcp: refused", ErrUnavailable), codes.Unavailable},
		{"canceled", context.Canceled, codes.Canceled},
		{"unexpected", errors.New("decode node record at /secret/key: bad json"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := New(nil, slog.New(slog.NewTextHandler(&logs, nil)))
			err := s.toStatus(t.Context(), tt.err)
			if got := status.Code(err); got != tt.want {
				t.Errorf("toStatus(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if tt.want == codes.Internal {
				if msg := status.Convert(err).Message(); strings.Contains(msg, "secret") {
					t.Errorf("toStatus(%v) message = %q, want no detail of the failure", tt.err, msg)
				}
				if !strings.Contains(logs.String(), "secret") {
					t.Errorf("toStatus(%v) logged %q, want the detail in the log", tt.err, logs.String())
				}
			}
		})
	}
}

func TestToStatusFieldViolation(t *testing.T) {
	s := New(nil, nil)
	err := s.toStatus(t.Context(), invalid.Field("service.nodes[0].id", "bad"))
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && br.GetFieldViolations()[0].GetField() == "service.nodes[0].id" {
			return
		}
	}
	t.Errorf("toStatus(invalid.Field) details = %v, want a BadRequest naming service.nodes[0].id", status.Convert(err).Details())
}
