package service_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// settle bounds every wait for something that should happen at once; it
// only keeps a broken build from hanging.
const settle = 30 * time.Second

// The namespace, service and account of the instances under test.
const (
	testNamespace = "brave-otter-lamp"
	testService   = "hello"
	testAccount   = "acc-hello"
	testSecret    = "secret-of-hello"
)

// standIn answers on a TLS port with the proxy's certificate what an
// instance asks of the platform (a login, its registration, a store read)
// and records it. It is the far end of the SDK under test; the SDK against
// the real proxy and core services is tested in services/internal/sdkcheck.
type standIn struct {
	authv1.UnimplementedAuthServiceServer
	registryv1.UnimplementedRegistryServiceServer
	storev1.UnimplementedStoreServiceServer

	ca   *mtls.CA
	addr string
	// tokenTTL is the lifetime of the tokens it issues.
	tokenTTL time.Duration

	mu            sync.Mutex
	logins        []string // "secret" or "refresh", in order
	issued        int
	refuseRefresh bool
	auth          []string // authorization of each registry and store call
	tables        []string // table of each store read
	registered    chan *registryv1.RegisterRequest
	deregistered  chan *registryv1.DeregisterRequest
}

// newStandIn serves a stand-in until the test ends.
func newStandIn(t *testing.T) *standIn {
	t.Helper()
	s := &standIn{
		ca: mtlstest.NewCA(t), tokenTTL: time.Hour,
		registered: make(chan *registryv1.RegisterRequest, 100), deregistered: make(chan *registryv1.DeregisterRequest, 10),
	}
	srv := grpcserver.New(grpcserver.Options{TLS: mtls.ServerOnlyConfig(mtlstest.Bundle(t, s.ca, "micro", "proxy").Cert)})
	authv1.RegisterAuthServiceServer(srv.GRPC(), s)
	registryv1.RegisterRegistryServiceServer(srv.GRPC(), s)
	storev1.RegisterStoreServiceServer(srv.GRPC(), s)
	s.addr = serve(t, srv)
	return s
}

// Token implements authv1.AuthServiceServer.
func (s *standIn) Token(_ context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := "secret"
	switch {
	case req.GetRefreshToken() != "" && s.refuseRefresh:
		s.logins = append(s.logins, "refused refresh")
		return nil, status.Error(codes.Unauthenticated, "refresh token reused")
	case req.GetRefreshToken() != "":
		kind = "refresh"
	case req.GetNamespace() != testNamespace || req.GetId() != testAccount || req.GetSecret() != testSecret:
		return nil, status.Error(codes.Unauthenticated, "wrong account or secret")
	}
	s.logins = append(s.logins, kind)
	s.issued++
	now := time.Now()
	return &authv1.TokenResponse{Token: &authv1.Token{
		AccessToken: fmt.Sprintf("access-%d", s.issued), RefreshToken: fmt.Sprintf("refresh-%d", s.issued),
		Created: timestamppb.New(now), Expiry: timestamppb.New(now.Add(s.tokenTTL)),
	}}, nil
}

// Register implements registryv1.RegistryServiceServer.
func (s *standIn) Register(ctx context.Context, req *registryv1.RegisterRequest) (*registryv1.RegisterResponse, error) {
	s.record(ctx)
	s.registered <- req
	return &registryv1.RegisterResponse{}, nil
}

// Deregister implements registryv1.RegistryServiceServer.
func (s *standIn) Deregister(ctx context.Context, req *registryv1.DeregisterRequest) (*registryv1.DeregisterResponse, error) {
	s.record(ctx)
	s.deregistered <- req
	return &registryv1.DeregisterResponse{}, nil
}

// Read implements storev1.StoreServiceServer.
func (s *standIn) Read(ctx context.Context, req *storev1.ReadRequest) (*storev1.ReadResponse, error) {
	s.record(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables = append(s.tables, req.GetTable())
	return &storev1.ReadResponse{}, nil
}

// record keeps a call's authorization.
func (s *standIn) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = append(s.auth, strings.Join(md.Get("authorization"), ","))
}

// seen returns copies of what the stand-in recorded.
func (s *standIn) seen() (logins, auth, tables []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logins...), append([]string(nil), s.auth...), append([]string(nil), s.tables...)
}

// env is the environment the runtime would give an instance of
// testNamespace/testService, with its certificate files under a new
// directory.
func (s *standIn) env(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	writeCert(t, dir, mtlstest.Bundle(t, s.ca, testNamespace, testService))
	return map[string]string{
		service.EnvAddress: "127.0.0.1:0", service.EnvTLSDir: dir, service.EnvNamespace: testNamespace,
		service.EnvServiceName: testService, service.EnvServiceVersion: "v1", service.EnvInstance: "2",
		service.EnvProxy: s.addr, service.EnvAccountID: testAccount, service.EnvAccountSecret: testSecret,
	}
}

// writeCert writes b as the runtime lays out MICRO_TLS_DIR.
func writeCert(t *testing.T, dir string, b *mtls.Bundle) {
	t.Helper()
	if err := b.WriteFiles(dir, "cert"); err != nil {
		t.Fatalf("WriteFiles() = %v", err)
	}
	if err := os.Rename(filepath.Join(dir, "cert-key.pem"), filepath.Join(dir, service.KeyFile)); err != nil {
		t.Fatal(err)
	}
}

// running is an instance started by start.
type running struct {
	svc     *service.Service
	greeter *servicetest.Greeter
	addr    string
	logs    *logSink
	stop    func() error
}

// start runs an instance of a Greeter answering text, with env, until the
// test ends or stop is called, and returns once it serves.
func start(t *testing.T, env map[string]string, text string, opts ...service.Option) *running {
	t.Helper()
	logs := &logSink{}
	opts = append([]service.Option{
		service.WithEnvironment(func(k string) string { return env[k] }),
		service.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
		// No proxy watches the stand-in's registry, so no routing cache
		// needs time to drop a stopping instance.
		service.WithShutdownGrace(time.Millisecond),
	}, opts...)
	r := &running{svc: service.New(testService, opts...), greeter: servicetest.NewGreeter(text), logs: logs}
	hellopb.RegisterHelloServer(r.svc, r.greeter)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.svc.RunContext(ctx) }()
	var once sync.Once
	var err error
	r.stop = func() error { once.Do(func() { cancel(); err = <-done }); return err }
	t.Cleanup(func() { r.stop() })
	line := logs.waitFor(t, func(l logLine) bool { return strings.HasPrefix(l.Msg, "serving ") })
	r.addr = line.Address
	return r
}

// logSink keeps the JSON lines an instance logs.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// logLine is the part of a log line the tests read.
type logLine struct {
	Msg, Mode, Address, Error string
	HealthAddress             string `json:"health_address"`
}

// lines parses what was logged so far.
func (l *logSink) lines() []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var line logLine
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			out = append(out, line)
		}
	}
	return out
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor polls the log until a line matches, for up to settle.
func (l *logSink) waitFor(t *testing.T, match func(logLine) bool) logLine {
	t.Helper()
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		for _, line := range l.lines() {
			if match(line) {
				return line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no matching log line after %s; log:\n%s", settle, l)
	return logLine{}
}

// serve serves srv on a loopback port until the test ends.
func serve(t *testing.T, srv *grpcserver.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v", err)
		}
	})
	return lis.Addr().String()
}

// dialAs connects to an instance at addr as the mTLS identity ns/svc of
// ca, expecting testNamespace/testService.
func dialAs(t *testing.T, ca *mtls.CA, addr, ns, svc string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(t, ca, ns, svc), mtls.Identity{Namespace: testNamespace, Service: testService})
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
