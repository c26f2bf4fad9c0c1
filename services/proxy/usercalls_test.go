package proxy

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"

	"m3o.dev/pkg/invoke"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

// serveConn serves what register registers, with server reflection or
// without, on loopback until the test ends, and returns a connection to it.
func serveConn(t *testing.T, withReflection bool, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	register(srv)
	if withReflection {
		reflection.Register(srv)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// helloConn serves the hello API with reflection.
func helloConn(t *testing.T) *grpc.ClientConn {
	return serveConn(t, true, func(srv *grpc.Server) { hellopb.RegisterHelloServer(srv, servicetest.NewGreeter("Hi")) })
}

// olderCall is Hello.Call as an older API of the service had it: its
// request's field was "nom", not "name".
func olderCall(t *testing.T) invoke.Method {
	t.Helper()
	fdp := protodesc.ToFileDescriptorProto(hellopb.File_hello_proto)
	for _, m := range fdp.GetMessageType() {
		if m.GetName() == "CallRequest" {
			m.GetField()[0].Name, m.GetField()[0].JsonName = proto.String("nom"), proto.String("nom")
		}
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return invoke.Method{Desc: fd.Services().ByName("Hello").Methods().ByName("Call")}
}

// postCall posts body to Hello.Call through a gateway of users' services
// over conn with the cache methods.
func postCall(t *testing.T, conn *grpc.ClientConn, methods *methodCache, body string) *httptest.ResponseRecorder {
	t.Helper()
	return post(t, conn, methods, "/v1/call/hello/Hello.Call", body)
}

// post posts body to path through a gateway of users' services over conn
// with the cache methods.
func post(t *testing.T, conn *grpc.ClientConn, methods *methodCache, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	mux := runtime.NewServeMux(gatewayOptions()...)
	if err := registerUserCalls(mux, conn, methods); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

// TestUserCallRereadsAChangedAPI caches the older API of Hello.Call, as
// if the service had been updated since the caller's last call: a request
// of the new API is read against the service's reflection afresh and
// served, and the fresh method replaces the cached one.
func TestUserCallRereadsAChangedAPI(t *testing.T) {
	conn := helloConn(t)
	methods := newMethodCache()
	key := methodKey{authorization: "Bearer t", service: "hello", endpoint: "Hello.Call"}
	methods.put(key, olderCall(t))

	rec := postCall(t, conn, methods, `{"name":"Ann"}`)
	if rec.Code != http.StatusOK || rec.Body.String() != `{"message":"Hi Ann"}` {
		t.Fatalf("POST Hello.Call with an older API cached = %d %s, want 200 {\"message\":\"Hi Ann\"}", rec.Code, rec.Body)
	}
	m, ok := methods.get(key)
	if !ok || m.Desc.Input().Fields().ByName("name") == nil {
		t.Errorf("the cache holds %v, %v after the call, want the service's current Hello.Call", m.Desc, ok)
	}
	rec = postCall(t, conn, methods, `{"nom":"Ann"}`)
	wantAnswer(t, "POST Hello.Call with a field of no API", rec, http.StatusBadRequest,
		`Cannot call Hello.Call of service 'hello': the request is not a JSON hello.CallRequest: unknown field "nom" (line 1, column 2).`)
}

// TestMethodCache keeps a method for methodTTL, for the caller who
// resolved it only, and never holds more than maxMethods.
func TestMethodCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newMethodCache()
	c.now = func() time.Time { return now }
	m := invoke.Method{Desc: hellopb.File_hello_proto.Services().Get(0).Methods().Get(0)}
	alice := methodKey{authorization: "Bearer alice", service: "hello", endpoint: "Hello.Call"}
	c.put(alice, m)
	if _, ok := c.get(alice); !ok {
		t.Error("get(alice) right after put = none, want the method")
	}
	bob := alice
	bob.authorization = "Bearer bob"
	if _, ok := c.get(bob); ok {
		t.Error("get(bob) = alice's method, want none: a caller never uses another's")
	}
	now = now.Add(methodTTL)
	if _, ok := c.get(alice); ok {
		t.Errorf("get(alice) %v after put = the method, want none", methodTTL)
	}
	for i := range maxMethods + 10 {
		c.put(methodKey{authorization: "Bearer " + string(rune(i)), service: "hello"}, m)
	}
	if n := len(c.entries); n > maxMethods {
		t.Errorf("the cache holds %d methods, want at most %d", n, maxMethods)
	}
}

// brokenStream is a test service whose server-streaming method sends one
// response and then fails, and which has a client-streaming method.
type brokenStream struct {
	testgrpc.UnimplementedTestServiceServer
}

func (brokenStream) StreamingOutputCall(_ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte("hi")}}); err != nil {
		return err
	}
	return status.Error(codes.Unavailable, "gone")
}

// TestUserCallAnswersWhatItCannotServe calls what the gateway cannot turn
// into JSON, and a stream that fails after its first response: a service
// without reflection and a method that takes a stream of requests (named
// in full: reflection lists grpc.* services under no short name) are 501
// in words, and the failed stream ends with an error line after its
// result, its status line having gone.
func TestUserCallAnswersWhatItCannotServe(t *testing.T) {
	blind := serveConn(t, false, func(srv *grpc.Server) { hellopb.RegisterHelloServer(srv, servicetest.NewGreeter("Hi")) })
	rec := post(t, blind, newMethodCache(), "/v1/call/hello/Hello.Call", `{}`)
	wantAnswer(t, "without reflection", rec, http.StatusNotImplemented,
		"Service 'hello' does not answer gRPC server reflection, which the gateway reads its methods from.")

	conn := serveConn(t, true, func(srv *grpc.Server) { testgrpc.RegisterTestServiceServer(srv, brokenStream{}) })
	rec = post(t, conn, newMethodCache(), "/v1/call/test/grpc.testing.TestService.StreamingInputCall", `{}`)
	wantAnswer(t, "a stream of requests", rec, http.StatusNotImplemented,
		"Cannot call grpc.testing.TestService.StreamingInputCall of service 'test': grpc.testing.TestService.StreamingInputCall: methods that take a stream of requests are not supported.")

	rec = post(t, conn, newMethodCache(), "/v1/call/test/grpc.testing.TestService/StreamingOutputCall", `{}`)
	want := `{"result":{"payload":{"type":"COMPRESSABLE","body":"aGk="},"peerSocketAddress":""}}` + "\n" +
		`{"error":{"code":14,"message":"gone","details":[]}}` + "\n"
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Errorf("a stream failing after one response = %d %q, want 200 %q", rec.Code, rec.Body, want)
	}
}

// wantAnswer checks an error answer's status and message.
func wantAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder, code int, message string) {
	t.Helper()
	var answer struct{ Message string }
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	if rec.Code != code || answer.Message != message {
		t.Errorf("%s = %d %s, want %d %q", what, rec.Code, rec.Body, code, message)
	}
}
