package invoke_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"

	"m3o.dev/pkg/invoke"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

// server is a real gRPC server of the hello API that records the
// micro-service header of every call and stream.
type server struct {
	addr    string
	mu      sync.Mutex
	headers map[string][]string // full method: the header values seen
}

// serve starts a server until the test ends, with reflection or without.
func serve(t *testing.T, withReflection bool) *server {
	t.Helper()
	s := &server{headers: map[string][]string{}}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			s.record(ctx, info.FullMethod)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			s.record(ss.Context(), info.FullMethod)
			return h(srv, ss)
		}),
	)
	hellopb.RegisterHelloServer(srv, servicetest.NewGreeter("Hi"))
	if withReflection {
		reflection.Register(srv)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return s
}

func (s *server) record(ctx context.Context, method string) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headers[method] = append(s.headers[method], md.Get("micro-service")...)
}

// seen returns the header values a method's calls carried.
func (s *server) seen(method string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers[method]
}

// client returns an invoke.Client of the server sending micro-service: hello.
func (s *server) client(t *testing.T) *invoke.Client {
	t.Helper()
	cc, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return invoke.New(cc, metadata.Pairs("micro-service", "hello"))
}

func TestResolve(t *testing.T) {
	c := serve(t, true).client(t)
	tests := []struct {
		name, want string
		err        error
	}{
		{name: "Hello.Call", want: "/hello.Hello/Call"},
		{name: "hello.Hello.Stream", want: "/hello.Hello/Stream"},
		{name: "/hello.Hello/Hold", want: "/hello.Hello/Hold"},
		{name: "Hello.Nope", err: invoke.ErrUnknownMethod},
		{name: "Goodbye.Call", err: invoke.ErrUnknownMethod},
		{name: "other.Hello.Call", err: invoke.ErrUnknownMethod},
		{name: "Call", err: invoke.ErrBadName},
		{name: "Hello.", err: invoke.ErrBadName},
		{name: "/hello.Hello", err: invoke.ErrBadName},
		{name: "/hello.Hello/Call/x", err: invoke.ErrBadName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := c.Resolve(t.Context(), tc.name)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Resolve(%q) = %v, want %v", tc.name, err, tc.err)
			}
			if err == nil && m.FullName() != tc.want {
				t.Errorf("Resolve(%q) = %s, want %s", tc.name, m.FullName(), tc.want)
			}
		})
	}
}

func TestResolveListsMethods(t *testing.T) {
	_, err := serve(t, true).client(t).Resolve(t.Context(), "Hello.Nope")
	if err == nil || !strings.Contains(err.Error(), "Hello.Call, Hello.Stream, Hello.Hold") {
		t.Errorf("Resolve(Hello.Nope) = %v, want the service's methods named", err)
	}
}

func TestCall(t *testing.T) {
	s := serve(t, true)
	c := s.client(t)
	tests := []struct {
		method, request string
		want            []string
		err             error
	}{
		{method: "Hello.Call", request: `{"name":"Ann"}`, want: []string{"{\n  \"message\": \"Hi Ann\"\n}"}},
		{method: "Hello.Stream", request: `{"name":"Ann","count":2}`, want: []string{
			"{\n  \"message\": \"Hi Ann (1)\"\n}", "{\n  \"message\": \"Hi Ann (2)\"\n}"}},
		{method: "Hello.Stream", request: `{"name":"Ann"}`},
		{method: "Hello.Call", request: `{"nam":"Ann"}`, err: invoke.ErrBadRequest},
		{method: "Hello.Call", request: `{"name":`, err: invoke.ErrBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.request, func(t *testing.T) {
			m, err := c.Resolve(t.Context(), tc.method)
			if err != nil {
				t.Fatalf("Resolve(%s) = %v", tc.method, err)
			}
			var got []string
			err = c.Call(t.Context(), m, []byte(tc.request), func(b []byte) error {
				got = append(got, string(b))
				return nil
			})
			if !errors.Is(err, tc.err) {
				t.Fatalf("Call(%s, %s) = %v, want %v", tc.method, tc.request, err, tc.err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Call(%s, %s) gave %q, want %q", tc.method, tc.request, got, tc.want)
			}
		})
	}
	for _, method := range []string{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", hellopb.Hello_Call_FullMethodName} {
		if got := s.seen(method); len(got) == 0 || got[0] != "hello" {
			t.Errorf("micro-service header of %s = %q, want hello on every call", method, got)
		}
	}
}

func TestNoReflection(t *testing.T) {
	_, err := serve(t, false).client(t).Resolve(t.Context(), "Hello.Call")
	if !errors.Is(err, invoke.ErrNoReflection) {
		t.Errorf("Resolve without reflection = %v, want ErrNoReflection", err)
	}
}
