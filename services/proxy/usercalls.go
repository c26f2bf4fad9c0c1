package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"m3o.dev/pkg/invoke"
	"m3o.dev/pkg/platform"
)

// UserCallPath is where the gateway serves the caller's own services:
// POST /v1/call/SERVICE/ENDPOINT with the request as a JSON body, as `micro
// call SERVICE ENDPOINT JSON` sends it. ENDPOINT is Service.Method, as the
// CLI takes it, or Service/Method, as Micro's API paths read.
const UserCallPath = "/v1/call/{service}/{endpoint=**}"

// registerUserCalls serves calls to users' services on mux. As the core
// APIs' calls do, each goes through the proxy's own public gRPC port on
// conn with the caller's Authorization header, so it meets the same
// authentication, rules, rate limit and payment gate as over gRPC, and
// reaches only the caller's namespace. The method's types come from the
// service's own server reflection, asked the same way, and kept in methods
// for the caller's next calls.
func registerUserCalls(mux *runtime.ServeMux, conn grpc.ClientConnInterface, methods *methodCache) error {
	return mux.HandlePath(http.MethodPost, UserCallPath, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		c := userCall{mux: mux, conn: conn, methods: methods, key: methodKey{
			authorization: r.Header.Get("Authorization"),
			service:       params["service"],
			endpoint:      endpointName(params["endpoint"]),
		}}
		c.serve(w, r)
	})
}

// endpointName reads Service/Method as Service.Method.
func endpointName(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		return path[:i] + "." + path[i+1:]
	}
	return path
}

// userCall is one HTTP call to a user's service.
type userCall struct {
	mux     *runtime.ServeMux
	conn    grpc.ClientConnInterface
	methods *methodCache
	key     methodKey // the caller, service and endpoint
}

// serve calls the method and answers with its response, or with the
// gateway's JSON error, which names the service when the service itself
// ended the call (Grpc-Metadata-Micro-Answered-By).
func (c userCall) serve(w http.ResponseWriter, r *http.Request) {
	_, marshaler := runtime.MarshalerForRequest(c.mux, r)
	ctx, err := runtime.AnnotateContext(r.Context(), c.mux, r, "/"+c.key.service+"/"+c.key.endpoint)
	if err != nil {
		runtime.HTTPError(r.Context(), c.mux, marshaler, w, r, err)
		return
	}
	out := &userAnswer{w: w}
	err = c.call(withoutServiceHeader(ctx), r.Body, out)
	switch {
	case err == nil:
	case out.started:
		out.fail(err)
	default:
		md := runtime.ServerMetadata{HeaderMD: metadata.Join(out.header, serviceAnswered(out.trailer))}
		runtime.HTTPError(runtime.NewServerMetadataContext(ctx, md), c.mux, marshaler, w, r, c.status(err))
	}
}

// call calls the method with the body, an empty body being the empty
// request. A method cached from an earlier call that the body does not
// fit is read afresh from the service, whose API may have changed since,
// and the call tried once more: nothing was sent the first time.
func (c userCall) call(ctx context.Context, body io.Reader, out *userAnswer) error {
	req, err := io.ReadAll(body)
	if err != nil {
		return status.Error(codes.InvalidArgument, "The request body could not be read.")
	}
	if len(bytes.TrimSpace(req)) == 0 {
		req = []byte("{}")
	}
	client := invoke.New(c.conn, metadata.Pairs(platform.ServiceHeader, c.key.service))
	m, cached, err := c.resolve(ctx, client)
	if err != nil {
		return err
	}
	err = c.send(ctx, client, m, req, out)
	if cached && errors.Is(err, invoke.ErrBadRequest) {
		c.methods.forget(c.key)
		if m, _, err = c.resolve(ctx, client); err != nil {
			return err
		}
		err = c.send(ctx, client, m, req, out)
	}
	return err
}

// resolve returns the method from the cache, or else from the service's
// reflection, and whether it came from the cache.
func (c userCall) resolve(ctx context.Context, client *invoke.Client) (invoke.Method, bool, error) {
	if m, ok := c.methods.get(c.key); ok {
		return m, true, nil
	}
	m, err := client.Resolve(ctx, c.key.endpoint)
	if err != nil {
		return invoke.Method{}, false, err
	}
	c.methods.put(c.key, m)
	return m, false, nil
}

// send calls m with the request.
func (c userCall) send(ctx context.Context, client *invoke.Client, m invoke.Method, req []byte, out *userAnswer) error {
	out.stream = m.Desc.IsStreamingServer()
	return client.Call(ctx, m, req, out.write, grpc.Header(&out.header), grpc.Trailer(&out.trailer))
}

// withoutServiceHeader drops a micro-service header the caller sent as
// Grpc-Metadata-Micro-Service: the path names the service.
func withoutServiceHeader(ctx context.Context) context.Context {
	md, ok := metadata.FromOutgoingContext(ctx)
	if !ok {
		return ctx
	}
	md = md.Copy()
	md.Delete(platform.ServiceHeader)
	return metadata.NewOutgoingContext(ctx, md)
}

// serviceAnswered keeps only the trailer that says the user's service itself
// ended the call.
func serviceAnswered(trailer metadata.MD) metadata.MD {
	if by := trailer.Get(platform.AnsweredByTrailer); len(by) > 0 {
		return metadata.Pairs(platform.AnsweredByTrailer, by[0])
	}
	return nil
}

// userCallErrors give the errors of resolving and calling a method their
// codes. Where the sentinel only says what kind of error it is, the
// message drops its words.
var userCallErrors = []struct {
	sentinel error
	code     codes.Code
	drop     bool
}{
	{invoke.ErrAmbiguous, codes.InvalidArgument, false},
	{invoke.ErrClientStreaming, codes.Unimplemented, false},
	{invoke.ErrBadRequest, codes.InvalidArgument, true},
	{invoke.ErrUnknownMethod, codes.NotFound, true},
}

// status is the gRPC status the gateway answers err with. The platform's
// and the service's own statuses pass as they are.
func (c userCall) status(err error) error {
	if errors.Is(err, invoke.ErrNoReflection) {
		return status.Errorf(codes.Unimplemented, "Service '%s' does not answer gRPC server reflection, which the gateway reads its methods from.", c.key.service)
	}
	if errors.Is(err, invoke.ErrBadName) {
		return status.Errorf(codes.InvalidArgument, "Cannot call %s of service '%s': the endpoint must be Service.Method or Service/Method, such as Hello.Call.", c.key.endpoint, c.key.service)
	}
	for _, e := range userCallErrors {
		if !errors.Is(err, e.sentinel) {
			continue
		}
		reason := err.Error()
		if e.drop {
			reason = strings.TrimSuffix(reason, ": "+e.sentinel.Error())
		}
		return status.Errorf(e.code, "Cannot call %s of service '%s': %s.", c.key.endpoint, c.key.service, strings.TrimSuffix(reason, "."))
	}
	return err
}

// userAnswer writes a method's responses: a unary method's one as the
// body, and each of a server-streaming method's as a line {"result": …}, as
// grpc-gateway streams the core APIs'.
type userAnswer struct {
	w               http.ResponseWriter
	stream          bool
	started         bool
	header, trailer metadata.MD
}

// write writes one response, given as JSON.
func (a *userAnswer) write(msg []byte) error {
	var buf bytes.Buffer
	if a.stream {
		buf.WriteString(`{"result":`)
	}
	if err := json.Compact(&buf, msg); err != nil {
		return fmt.Errorf("compact the response: %w", err)
	}
	if a.stream {
		buf.WriteString("}\n")
	}
	a.start()
	if _, err := a.w.Write(buf.Bytes()); err != nil {
		return err
	}
	if f, ok := a.w.(http.Flusher); ok && a.stream {
		f.Flush()
	}
	return nil
}

// start writes the status line and headers before the first response:
// the service's header metadata as Grpc-Metadata-*, as grpc-gateway
// forwards it.
func (a *userAnswer) start() {
	if a.started {
		return
	}
	a.started = true
	for k, vs := range a.header {
		for _, v := range vs {
			a.w.Header().Add(runtime.MetadataHeaderPrefix+k, v)
		}
	}
	a.w.Header().Set("Content-Type", "application/json")
	a.w.WriteHeader(http.StatusOK)
}

// fail ends a stream whose responses have begun with the error as a last
// line {"error": …}, since the status line has gone; compact, as the
// results are, where protojson varies its spacing on purpose.
func (a *userAnswer) fail(err error) {
	st, merr := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(status.Convert(err).Proto())
	var line bytes.Buffer
	if merr != nil || json.Compact(&line, st) != nil {
		return
	}
	fmt.Fprintf(a.w, "{\"error\":%s}\n", line.Bytes())
}
