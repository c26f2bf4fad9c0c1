package service_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest/hellopb"
	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// TestStandalone runs a service with no platform environment, as `go run .`
// does: plain gRPC with health and reflection, no registry, a log that says
// so, and platform clients that explain why they cannot work.
func TestStandalone(t *testing.T) {
	r := start(t, map[string]string{}, "Hello")
	if line := r.logs.waitFor(t, func(l logLine) bool { return l.Mode != "" }); line.Mode != "standalone" {
		t.Errorf("log mode = %q, want standalone; log:\n%s", line.Mode, r.logs)
	}
	if !r.svc.Standalone() || r.svc.Name() != "hello" || r.svc.Namespace() != "" {
		t.Errorf("Standalone(), Name(), Namespace() = %v, %q, %q, want true, hello, empty", r.svc.Standalone(), r.svc.Name(), r.svc.Namespace())
	}
	conn := plainConn(t, r.addr)
	ctx := t.Context()
	resp, err := hellopb.NewHelloClient(conn).Call(ctx, &hellopb.CallRequest{Name: "Ann"})
	if err != nil || resp.GetMessage() != "Hello Ann" {
		t.Errorf("Call(Ann) = %v, %v, want Hello Ann", resp, err)
	}
	if h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Health.Check() = %v, %v, want SERVING", h, err)
	}
	if got := listServices(t, conn); !contains(got, "hello.Hello") {
		t.Errorf("reflection lists %v, want hello.Hello among them", got)
	}
	_, err = r.svc.Store().Read(ctx, &storev1.ReadRequest{Key: "k"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Store().Read() standalone = %v, want FailedPrecondition", err)
	}
	_, err = configv1.NewConfigServiceClient(r.svc.Client("other")).Get(ctx, &configv1.GetRequest{})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Client(other) standalone = %v, want FailedPrecondition", err)
	}
	if err := r.stop(); err != nil {
		t.Errorf("RunContext() after cancel = %v, want nil", err)
	}
}

// TestHealthListener checks the plain-text health listener that probes
// without a certificate use, beside an mTLS instance.
func TestHealthListener(t *testing.T) {
	s := newStandIn(t)
	env := s.env(t)
	env[service.EnvHealthAddress] = "127.0.0.1:0"
	r := start(t, env, "Hello")
	line := r.logs.waitFor(t, func(l logLine) bool { return l.HealthAddress != "" })
	if err := checkHealth(t.Context(), plainConn(t, line.HealthAddress)); err != nil {
		t.Errorf("plain-text Health.Check() = %v, want SERVING", err)
	}
	if err := checkHealth(t.Context(), plainConn(t, r.addr)); err == nil {
		t.Errorf("plain-text Health.Check() on the mTLS address = nil, want it refused")
	}
}

// plainConn connects to addr in plain text.
func plainConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestReservedPackage checks that a handler in the platform's packages is
// refused before anything is served.
func TestReservedPackage(t *testing.T) {
	svc := service.New("sneaky", service.WithEnvironment(func(string) string { return "" }))
	desc := hellopb.Hello_ServiceDesc
	desc.ServiceName = "m3o.store.v1.StoreService"
	svc.RegisterService(&desc, nil)
	if err := svc.RunContext(t.Context()); !errors.Is(err, service.ErrReservedPackage) {
		t.Errorf("RunContext() with an m3o. service = %v, want ErrReservedPackage", err)
	}
}

// TestBrokenEnvironment checks that a partial platform environment fails
// Run rather than running standalone, and fails the platform clients.
func TestBrokenEnvironment(t *testing.T) {
	env := map[string]string{service.EnvNamespace: testNamespace}
	svc := service.New("hello", service.WithEnvironment(func(k string) string { return env[k] }))
	if err := svc.RunContext(t.Context()); !errors.Is(err, service.ErrEnv) {
		t.Errorf("RunContext() = %v, want ErrEnv", err)
	}
	if _, err := svc.Store().Read(t.Context(), &storev1.ReadRequest{Key: "k"}); status.Code(err) != codes.Unavailable {
		t.Errorf("Store().Read() = %v, want Unavailable", err)
	}
}

// listServices lists the services conn's server reflects.
func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatalf("ServerReflectionInfo() = %v", err)
	}
	req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}
	if err := stream.Send(req); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv() = %v", err)
	}
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
