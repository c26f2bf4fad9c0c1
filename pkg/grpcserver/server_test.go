package grpcserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/internal/grpctest"
)

func TestPanicBecomesInternal(t *testing.T) {
	var calls atomic.Int32
	e := start(t, grpcserver.Options{}, grpctest.Handlers{
		Call: func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			if calls.Add(1) == 1 {
				panic("boom: secret detail")
			}
			return in, nil
		},
		Watch: func(context.Context, *wrapperspb.StringValue) ([]string, error) { panic("stream boom") },
	})
	ctx := t.Context()

	_, err := grpctest.Call(ctx, e.conn, "a")
	if got := status.Convert(err); got.Code() != codes.Internal || got.Message() != "internal error" {
		t.Errorf("Call(panicking) = %v, want Internal with message %q", err, "internal error")
	}
	if got, err := grpctest.Call(ctx, e.conn, "again"); err != nil || got != "again" {
		t.Errorf("Call() after panic = %q, %v, want %q, nil", got, err, "again")
	}
	if _, err := grpctest.Watch(ctx, e.conn, "w"); status.Code(err) != codes.Internal {
		t.Errorf("Watch(panicking) = %v, want Internal", err)
	}
	if got := e.counter(t, grpctest.CallMethod, "Internal"); got != 1 {
		t.Errorf("handled_total{Call, Internal} = %v, want 1", got)
	}
	logs := e.logs.String()
	for _, want := range []string{"panic in handler", "boom: secret detail", "grpctest.Handlers.callHandler"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestDefaultDeadline(t *testing.T) {
	e := start(t, grpcserver.Options{DefaultDeadline: 2 * time.Second}, grpctest.Handlers{
		Call: func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			d, ok := ctx.Deadline()
			if !ok {
				return wrapperspb.String("none"), nil
			}
			return wrapperspb.String(time.Until(d).Round(time.Second).String()), nil
		},
	})
	tests := []struct {
		name    string
		timeout time.Duration
		want    string
	}{
		{"caller set none", 0, "2s"},
		{"caller's deadline wins", time.Minute, "1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			if got, err := grpctest.Call(ctx, e.conn, ""); err != nil || got != tt.want {
				t.Errorf("Call() deadline seen by handler = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestDefaultDeadlineEndsCall(t *testing.T) {
	e := start(t, grpcserver.Options{DefaultDeadline: 100 * time.Millisecond}, grpctest.Handlers{
		Call: func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
	})
	if _, err := grpctest.Call(t.Context(), e.conn, ""); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Call(blocking, no deadline) = %v, want DeadlineExceeded", err)
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	const tok = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
	const body = "my-password-hunter2"
	e := start(t, grpcserver.Options{}, grpctest.Handlers{
		Call: func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			return nil, status.Error(codes.NotFound, "no record for "+body)
		},
	})
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok, "x-api-key", "key-"+body)
	if _, err := grpctest.Call(ctx, e.conn, body); status.Code(err) != codes.NotFound {
		t.Fatalf("Call() = %v, want NotFound", err)
	}
	raw := e.logs.String()
	for _, secret := range []string{tok, "c2VjcmV0LXBheWxvYWQ", body} {
		if strings.Contains(raw, secret) {
			t.Errorf("logs contain %q:\n%s", secret, raw)
		}
	}
	lines := e.logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1:\n%s", len(lines), raw)
	}
	want := map[string]any{"grpc.service": "m3o.test.v1.TestService", "grpc.method": "Call", "grpc.code": "NotFound", "peer": "micro/proxy", "level": "INFO"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("log[%q] = %v, want %v", k, lines[0][k], v)
		}
	}
	if _, ok := lines[0]["duration_ms"].(float64); !ok {
		t.Errorf("log[duration_ms] = %v, want a number", lines[0]["duration_ms"])
	}
}

// TestStreamLogLine checks the line of a finished streaming call: its
// kind, its code and its caller.
func TestStreamLogLine(t *testing.T) {
	e := start(t, grpcserver.Options{}, grpctest.Handlers{
		Watch: func(context.Context, *wrapperspb.StringValue) ([]string, error) {
			return []string{"a", "b"}, nil
		},
	})
	if got, err := grpctest.Watch(t.Context(), e.conn, "x"); err != nil || len(got) != 2 {
		t.Fatalf("Watch() = %v, %v, want two values", got, err)
	}
	lines := e.logs.lines(t)
	want := map[string]any{"msg": "finished call", "grpc.service": "m3o.test.v1.TestService", "grpc.method": "Watch",
		"grpc.method_type": "server_stream", "grpc.code": "OK", "peer": "micro/proxy", "level": "INFO"}
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %v", len(lines), lines)
	}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("log[%q] = %v, want %v", k, lines[0][k], v)
		}
	}
}

func TestLogLevelFilters(t *testing.T) {
	e := startWith(t, grpcserver.Options{}, grpctest.Handlers{
		Call: func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			if in.GetValue() == "busy" {
				return nil, status.Error(codes.Unavailable, "busy")
			}
			return in, nil
		},
	}, slog.LevelWarn, nil)
	for _, in := range []string{"a", "busy", "b"} {
		grpctest.Call(t.Context(), e.conn, in)
	}
	lines := e.logs.lines(t)
	if len(lines) != 1 || lines[0]["grpc.code"] != "Unavailable" || lines[0]["level"] != "WARN" || lines[0]["peer"] != "micro/proxy" {
		t.Fatalf("logs at level WARN after OK, Unavailable, OK = %v, want the one Unavailable call at WARN", lines)
	}
}

// TestNoPingPerCall checks that the server sends no PING frame while calls
// run: grpc-go's flow-control estimation would ride a PING round on each
// call while a handler works, as a store does while it waits on its
// database. The frames the server writes are read off a plain-text
// connection, so the check counts exactly, with no timing involved: an
// estimation PING goes out when the request's data arrives, before the
// response it would precede.
func TestNoPingPerCall(t *testing.T) {
	srv := grpcserver.New(grpcserver.Options{Logger: slog.New(slog.DiscardHandler)})
	grpctest.Register(srv.GRPC(), grpctest.Handlers{Call: func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		time.Sleep(time.Millisecond)
		return in, nil
	}})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &frameCounter{Listener: inner}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-served })
	conn, err := grpc.NewClient(inner.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 50 {
		if _, err := grpctest.Call(t.Context(), conn, strings.Repeat("x", 200)); err != nil {
			t.Fatalf("Call() = %v", err)
		}
	}
	if got := lis.pings.Load(); got != 0 {
		t.Errorf("50 unary calls made the server send %d PING frames, want 0", got)
	}
}

// TestCallsBeyondWorkers holds more calls open at once than the server keeps
// workers for: each waits for all the others to arrive, so a call queued
// behind a busy worker would stall them all.
func TestCallsBeyondWorkers(t *testing.T) {
	n := int(grpcserver.StreamWorkers) + 16
	startHolding(t, n).hold(t)()
}

// TestLoadedCallsRunOnWorkers holds as many calls open at once as a loaded
// server has in flight, and checks that they run on the server's waiting
// workers rather than on goroutines started for them, whose small stacks
// would grow, copied again and again, on each call.
func TestLoadedCallsRunOnWorkers(t *testing.T) {
	const n = 64
	h := startHolding(t, n)
	before := runtime.NumGoroutine()
	release := h.hold(t)
	// The calls' own goroutines are this test's; the rest are the server's.
	started := runtime.NumGoroutine() - before - n
	release()
	if started > n/4 {
		t.Errorf("%d calls held open at once started %d goroutines on the server, want them on its workers", n, started)
	}
}

// holding is a server whose calls each wait until n calls have arrived.
type holding struct {
	conn    *grpc.ClientConn
	n       int
	arrived sync.WaitGroup
	all     chan struct{}
}

// startHolding starts a holding server, connected: its transport's
// goroutines run by the time it returns.
func startHolding(t *testing.T, n int) *holding {
	t.Helper()
	h := &holding{n: n, all: make(chan struct{})}
	h.arrived.Add(n)
	e := start(t, grpcserver.Options{}, grpctest.Handlers{
		Call: func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			if in.GetValue() == "warm" {
				return in, nil
			}
			h.arrived.Done()
			select {
			case <-h.all:
				return in, nil
			case <-ctx.Done():
				return nil, status.FromContextError(ctx.Err()).Err()
			}
		},
	})
	h.conn = e.conn
	if _, err := grpctest.Call(t.Context(), h.conn, "warm"); err != nil {
		t.Fatalf("Call(warm) = %v", err)
	}
	return h
}

// hold makes the n calls at once and returns when all have arrived; release
// lets them finish and checks that each succeeded.
func (h *holding) hold(t *testing.T) (release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	errs := make(chan error, h.n)
	for range h.n {
		go func() {
			_, err := grpctest.Call(ctx, h.conn, "x")
			errs <- err
		}()
	}
	arrived := make(chan struct{})
	go func() { h.arrived.Wait(); close(arrived) }()
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatalf("%d calls made at once had not all arrived after 10 s", h.n)
	}
	return func() {
		defer cancel()
		close(h.all)
		for range h.n {
			if err := <-errs; err != nil {
				t.Fatalf("Call() among %d held open at once = %v, want nil", h.n, err)
			}
		}
	}
}

func TestMetricsCounted(t *testing.T) {
	e := start(t, grpcserver.Options{}, grpctest.Handlers{
		Call: func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			if in.GetValue() == "missing" {
				return nil, status.Error(codes.NotFound, "not found")
			}
			return in, nil
		},
	})
	for _, in := range []string{"a", "b", "missing"} {
		grpctest.Call(t.Context(), e.conn, in)
	}
	if _, err := grpctest.Watch(t.Context(), e.conn, "w"); err != nil {
		t.Fatalf("Watch() = %v", err)
	}
	tests := []struct {
		method, code string
		want         float64
	}{
		{grpctest.CallMethod, "OK", 2},
		{grpctest.CallMethod, "NotFound", 1},
		{grpctest.WatchMethod, "OK", 1},
	}
	total := map[string]float64{grpctest.CallMethod: 3, grpctest.WatchMethod: 1}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.code, func(t *testing.T) {
			if got := e.counter(t, tt.method, tt.code); got != tt.want {
				t.Errorf("handled_total{%s, %s} = %v, want %v", tt.method, tt.code, got, tt.want)
			}
			if got, want := e.observations(t, tt.method), total[tt.method]; got != want {
				t.Errorf("handling_seconds{%s} count = %v, want %v", tt.method, got, want)
			}
		})
	}
}

func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	grpcserver.New(grpcserver.Options{Registerer: reg})
	s := grpcserver.New(grpcserver.Options{Registerer: reg})
	if s.Gatherer() != reg {
		t.Errorf("Gatherer() = %v, want the registry passed in", s.Gatherer())
	}
	if own := grpcserver.New(grpcserver.Options{}).Gatherer(); own == nil {
		t.Errorf("Gatherer() with no Registerer = nil, want a fresh registry")
	}
}

func TestHealthAndReflection(t *testing.T) {
	e := start(t, grpcserver.Options{}, grpctest.Handlers{})
	resp, err := healthpb.NewHealthClient(e.conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Health.Check() = %v, %v, want SERVING", resp.GetStatus(), err)
	}
	e.srv.Health().SetServingStatus("m3o.test.v1.TestService", healthpb.HealthCheckResponse_NOT_SERVING)
	resp, err = healthpb.NewHealthClient(e.conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: "m3o.test.v1.TestService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Health.Check(test service) = %v, %v, want NOT_SERVING", resp.GetStatus(), err)
	}

	st, err := rpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo() = %v", err)
	}
	if err := st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	got, err := st.Recv()
	if err != nil {
		t.Fatalf("Recv() = %v", err)
	}
	var names []string
	for _, s := range got.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, ","), "m3o.test.v1.TestService") {
		t.Errorf("reflection services = %v, want m3o.test.v1.TestService among them", names)
	}
}

// TestPlumbingLoggedAtDebug checks that successful health checks and
// reflection lookups stay out of a service's log at info level, while its
// own calls are there.
func TestPlumbingLoggedAtDebug(t *testing.T) {
	e := startWith(t, grpcserver.Options{}, grpctest.Handlers{}, slog.LevelInfo, nil)
	if _, err := healthpb.NewHealthClient(e.conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Health.Check() = %v", err)
	}
	st, err := rpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo() = %v", err)
	}
	if err := st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("Recv() = %v", err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("Recv() after CloseSend = %v, want EOF", err)
	}
	grpctest.Call(t.Context(), e.conn, "a")
	lines := e.logs.lines(t)
	if len(lines) != 1 || lines[0]["grpc.service"] != "m3o.test.v1.TestService" {
		t.Errorf("logs at level INFO after a health check, a reflection lookup and a call = %v, want the call's line alone", lines)
	}
}

func TestGracefulStop(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	e := start(t, grpcserver.Options{DrainTimeout: 10 * time.Second}, grpctest.Handlers{
		Call: func(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			close(entered)
			<-release
			return in, nil
		},
	})
	result := make(chan error, 1)
	go func() {
		_, err := grpctest.Call(context.Background(), e.conn, "in flight")
		result <- err
	}()
	<-entered
	e.cancel()
	select {
	case err := <-e.served:
		t.Fatalf("Serve() = %v while a call was in flight, want it to wait", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-result; err != nil {
		t.Errorf("in-flight Call() = %v, want it to complete", err)
	}
	select {
	case err := <-e.served:
		if err != nil {
			t.Errorf("Serve() = %v, want nil after a graceful stop", err)
		}
		e.served <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Serve() did not return after the last call finished")
	}
}

func TestDrainTimeout(t *testing.T) {
	entered := make(chan struct{})
	e := start(t, grpcserver.Options{DrainTimeout: 200 * time.Millisecond}, grpctest.Handlers{
		Call: func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			close(entered)
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	result := make(chan error, 1)
	go func() {
		_, err := grpctest.Call(context.Background(), e.conn, "stuck")
		result <- err
	}()
	<-entered
	begin := time.Now()
	e.cancel()
	select {
	case err := <-e.served:
		if err != nil {
			t.Errorf("Serve() = %v, want nil", err)
		}
		e.served <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve() did not return after the drain timeout")
	}
	if took := time.Since(begin); took < 200*time.Millisecond {
		t.Errorf("Serve() returned after %v, want at least the drain timeout", took)
	}
	if err := <-result; err == nil {
		t.Errorf("stuck Call() = nil, want an error once cut off")
	}
	if !strings.Contains(e.logs.String(), "drain timed out") {
		t.Errorf("logs lack the drain timeout warning:\n%s", e.logs.String())
	}
}

func TestServeReportsListenerError(t *testing.T) {
	s := grpcserver.New(grpcserver.Options{})
	if err := s.Serve(t.Context(), failingListener{}); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("Serve(broken listener) = %v, want the listener's error", err)
	}
}

func TestSplitMethod(t *testing.T) {
	for _, tc := range []struct {
		full, service, method string
		ok                    bool
	}{
		{"/m3o.store.v1.StoreService/Read", "m3o.store.v1.StoreService", "Read", true},
		{"m3o.store.v1.StoreService/Read", "m3o.store.v1.StoreService", "Read", true},
		{"/m3o.store.v1.StoreService", "m3o.store.v1.StoreService", "", false},
		{"/m3o.store.v1.StoreService/", "m3o.store.v1.StoreService", "", false},
		{"//Read", "", "Read", false},
		{"/a.B/Read/More", "a.B", "Read/More", false},
	} {
		service, method, ok := grpcserver.SplitMethod(tc.full)
		if service != tc.service || method != tc.method || ok != tc.ok {
			t.Errorf("SplitMethod(%q) = %q, %q, %v, want %q, %q, %v", tc.full, service, method, ok, tc.service, tc.method, tc.ok)
		}
	}
}
