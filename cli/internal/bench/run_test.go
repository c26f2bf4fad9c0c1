package bench

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestRetryDelay(t *testing.T) {
	limited, err := status.New(codes.ResourceExhausted, "slow down").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(30 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		err       error
		wantDelay time.Duration
		wantOK    bool
	}{
		{"rate limit", limited.Err(), 30 * time.Millisecond, true},
		{"store quota", status.Error(codes.ResourceExhausted, "quota"), 0, false},
		{"unavailable", status.Error(codes.Unavailable, "down"), 0, false},
		{"success", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := retryDelay(tt.err)
			if d != tt.wantDelay || ok != tt.wantOK {
				t.Errorf("retryDelay(%v) = %v, %v, want %v, %v", tt.err, d, ok, tt.wantDelay, tt.wantOK)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{status.Error(codes.ResourceExhausted, "slow down"), true},
		{status.Error(codes.PermissionDenied, "no"), true},
		{status.Error(codes.Unavailable, "down"), false},
		{status.Error(codes.DeadlineExceeded, "late"), false},
		{status.Error(codes.Internal, "broken"), false},
		{errors.New("connection reset"), false},
	}
	for _, tt := range tests {
		if got := refused(tt.err); got != tt.want {
			t.Errorf("refused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		name    string
		parts   []string
		has     []Op
		hasNot  []Op
		wantErr bool
	}{
		{"store only", []string{"store"}, []Op{StoreRead, StoreWrite, StoreDelete, StoreList}, []Op{ConfigGet, Call}, false},
		{"config and call", []string{"config", " call"}, []Op{ConfigGet, ConfigSet, Call}, []Op{StoreRead}, false},
		{"unknown part", []string{"store", "disk"}, nil, nil, true},
		{"empty", nil, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMix(tt.parts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseMix(%q) error = %v, want error %v", tt.parts, err, tt.wantErr)
			}
			for _, op := range tt.has {
				if !m.Has(op) {
					t.Errorf("ParseMix(%q).Has(%s) = false, want true", tt.parts, op)
				}
			}
			for _, op := range tt.hasNot {
				if m.Has(op) {
					t.Errorf("ParseMix(%q).Has(%s) = true, want false", tt.parts, op)
				}
			}
		})
	}
}
