package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestGatewayStatusOfExhaustion maps a service's ResourceExhausted to the
// HTTP status a client can act on: a message too large is 413, while a
// rate limit (RetryInfo) or a quota (QuotaFailure) stays 429.
func TestGatewayStatusOfExhaustion(t *testing.T) {
	tests := []struct {
		name   string
		detail protoadapt.MessageV1
		want   int
	}{
		{"message too large", nil, http.StatusRequestEntityTooLarge},
		{"rate limited", &errdetails.RetryInfo{RetryDelay: durationpb.New(0)}, http.StatusTooManyRequests},
		{"over a quota", &errdetails.QuotaFailure{}, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.New(codes.ResourceExhausted, "grpc: received message larger than max")
			if tt.detail != nil {
				var err error
				if st, err = st.WithDetails(tt.detail); err != nil {
					t.Fatal(err)
				}
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/v1/store/write", nil)
			gatewayError(t.Context(), runtime.NewServeMux(), &runtime.JSONPb{}, rec, req, st.Err())
			if rec.Code != tt.want {
				t.Errorf("HTTP status = %d, want %d", rec.Code, tt.want)
			}
		})
	}
}
