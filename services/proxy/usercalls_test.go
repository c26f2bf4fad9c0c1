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
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"

	"m3o.dev/pkg/invoke"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

// helloConn serves the hello API with reflection on loopback until the
// test ends, and returns a connection to it.
func helloConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hellopb.RegisterHelloServer(srv, servicetest.NewGreeter("Hi"))
	reflection.Register(srv)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
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
	mux := runtime.NewServeMux(gatewayOptions()...)
	if err := registerUserCalls(mux, conn, methods); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/call/hello/Hello.Call", strings.NewReader(body))
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
	want := `Cannot call Hello.Call of service 'hello': the request is not a JSON hello.CallRequest: unknown field "nom" (line 1, column 2).`
	var answer struct{ Message string }
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	if rec.Code != http.StatusBadRequest || answer.Message != want {
		t.Errorf("POST Hello.Call with a field of no API = %d %s, want 400 %q", rec.Code, rec.Body, want)
	}
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
