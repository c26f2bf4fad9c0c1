package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Request body caps of the gateway: a call's whole request message, as
// JSON, must fit. Auth's requests (names, secrets, tokens) are small, so a
// tighter cap there keeps anonymous callers of its public endpoints cheap.
const (
	MaxBodyBytes     = 4 << 20
	MaxAuthBodyBytes = 64 << 10
)

// gatewayOptions make the gateway strict about what it accepts: unknown
// JSON fields are refused rather than dropped (a misspelled "ttl" would
// otherwise write a record that never expires), and so is anything after
// the request's JSON value; a wrong method is 405, a path with no method
// 404 in words, and a message too large for the services 413.
func gatewayOptions() []runtime.ServeMuxOption {
	return []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, gatewayMarshaler()),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithErrorHandler(gatewayError),
	}
}

// gatewayMarshaler writes every field of an answer, and reads a request
// strictly.
func gatewayMarshaler() requestJSON {
	return requestJSON{&runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}}
}

// routingError answers a path the gateway knows with a wrong method as 405,
// where grpc-gateway would say 501, and a path it does not know with
// NoAPI's sentence, where grpc-gateway would say "Not Found".
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		writeStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented, "This path takes POST.")
	case http.StatusNotFound:
		NoAPI(w, r)
	default:
		runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
	}
}

// gatewayError is grpc-gateway's error answer, but for a message the
// services found too large: ResourceExhausted without the retry delay of a
// rate limit or the quota of a full store is 413, not 429; and a namespace
// that must pay gets 402, not 400.
func gatewayError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	switch st := status.Convert(err); {
	case tooLarge(st):
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: status.Error(codes.ResourceExhausted, "The request is too large.")}
	case isPaymentRequired(st):
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusPaymentRequired, Err: err}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// isPaymentRequired reports whether st is the payment gate's refusal.
func isPaymentRequired(st *status.Status) bool {
	if st.Code() != codes.FailedPrecondition {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == ReasonPaymentRequired {
			return true
		}
	}
	return false
}

func tooLarge(st *status.Status) bool {
	if st.Code() != codes.ResourceExhausted {
		return false
	}
	for _, d := range st.Details() {
		switch d.(type) {
		case *errdetails.RetryInfo, *errdetails.QuotaFailure:
			return false
		}
	}
	return true
}

// LimitBodies refuses a request body over its cap with 413 before the
// gateway decodes it, and reads at most the cap plus one byte to know.
func LimitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(MaxBodyBytes)
		if strings.HasPrefix(r.URL.Path, "/v1/auth/") {
			limit = MaxAuthBodyBytes
		}
		if r.ContentLength > limit {
			bodyTooLarge(w, limit)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if int64(len(body)) > limit {
			bodyTooLarge(w, limit)
			return
		}
		if err != nil {
			writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "The request body could not be read.")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func bodyTooLarge(w http.ResponseWriter, limit int64) {
	writeStatus(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
		fmt.Sprintf("The request body is over the limit of %d bytes.", limit))
}

// writeStatus writes an error in the gateway's JSON form.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	// Every field, as grpc-gateway writes its errors: "details" included.
	body, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(status.New(code, msg).Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	w.Write(body)
}
