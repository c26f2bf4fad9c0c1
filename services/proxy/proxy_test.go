package proxy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/rules"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	configv1 "m3o.dev/proto/m3o/config/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// backend is a core service stand-in that records what reached it. It is
// the far end of the proxy under test, not a replacement for a real service.
type backend struct {
	mu       sync.Mutex
	auth     []string
	deadline bool
}

func (b *backend) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	_, hasDeadline := ctx.Deadline()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.auth = md.Get("authorization")
	b.deadline = hasDeadline
}

type storeBackend struct {
	storev1.UnimplementedStoreServiceServer
	*backend
}

type configBackend struct {
	configv1.UnimplementedConfigServiceServer
	*backend
}

type authBackend struct {
	authv1.UnimplementedAuthServiceServer
	*backend
}

func (b storeBackend) Read(ctx context.Context, req *storev1.ReadRequest) (*storev1.ReadResponse, error) {
	b.record(ctx)
	if req.GetKey() == "missing" {
		return nil, status.Error(codes.NotFound, "no record has that key")
	}
	return &storev1.ReadResponse{Records: []*storev1.Record{{Key: req.GetKey(), Value: []byte("value of " + req.GetKey())}}}, nil
}

func (b authBackend) Token(ctx context.Context, req *authv1.TokenRequest) (*authv1.TokenResponse, error) {
	b.record(ctx)
	return &authv1.TokenResponse{Token: &authv1.Token{AccessToken: "issued-for-" + req.GetId()}}, nil
}

func (b configBackend) Watch(req *configv1.WatchRequest, stream grpc.ServerStreamingServer[configv1.WatchResponse]) error {
	b.record(stream.Context())
	if req.GetPath() == "hold" {
		// One message, then the watch stays open until the caller leaves.
		if err := stream.Send(&configv1.WatchResponse{Version: 1}); err != nil {
			return err
		}
		<-stream.Context().Done()
		return nil
	}
	for v := uint64(1); v <= 3; v++ {
		if err := stream.Send(&configv1.WatchResponse{Version: v, Value: req.GetPath()}); err != nil {
			return err
		}
	}
	return status.Error(codes.Unavailable, "watch ended")
}

// staticRules lists a fixed rule set, as the auth service would.
type staticRules []rules.Rule

func (s staticRules) List(_ context.Context, in *authv1.RulesServiceListRequest, _ ...grpc.CallOption) (*authv1.RulesServiceListResponse, error) {
	out := &authv1.RulesServiceListResponse{}
	for _, r := range s {
		if r.Namespace == in.GetNamespace() {
			out.Rules = append(out.Rules, rules.ToProto(r))
		}
	}
	return out, nil
}

type fixture struct {
	client  *grpc.ClientConn
	backend *backend
	signer  *token.Signer
}

func serve(t *testing.T, srv *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// newFixture runs a backend over mTLS, the proxy in front of it over
// server TLS, and a client that trusts the platform CA.
func newFixture(t *testing.T, limits RateLimit, options ...func(*Config)) *fixture {
	t.Helper()
	ca := mtlstest.NewCA(t)
	be := &backend{}
	backendSrv := grpc.NewServer(grpc.Creds(credentials.NewTLS(mtlstest.Bundle(t, ca, "micro", "store").ServerConfig())))
	storev1.RegisterStoreServiceServer(backendSrv, storeBackend{backend: be})
	configv1.RegisterConfigServiceServer(backendSrv, configBackend{backend: be})
	authv1.RegisterAuthServiceServer(backendSrv, authBackend{backend: be})
	backendAddr := serve(t, backendSrv)

	proxyBundle := mtlstest.Bundle(t, ca, "micro", "proxy")
	conn, err := grpc.NewClient(backendAddr, grpc.WithTransportCredentials(
		credentials.NewTLS(proxyBundle.ClientConfig(mtls.Identity{Namespace: "micro"}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// The registry's address refuses connections: port 1 is never served.
	down, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(
		credentials.NewTLS(proxyBundle.ClientConfig(mtls.Identity{Namespace: "micro"}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { down.Close() })

	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := token.NewKeySet()
	keys.Add(kid, priv.Public().(ed25519.PublicKey))
	ruleSet := staticRules{
		rules.NamespaceDefault("brave-otter-lamp"),
		{ID: "no-config", Namespace: "brave-otter-lamp", Scope: "*", Access: rules.Deny, Priority: 10,
			Resource: rules.Resource{Type: "service", Name: "m3o.config.v1.ConfigService", Endpoint: "Set"}},
	}
	cfg := Config{
		Verifier:   token.NewVerifier(keys),
		Authorizer: NewRulesAuthorizer(rules.NewCache(ruleSet, slog.New(slog.DiscardHandler), time.Minute)),
		Backends: map[string]*grpc.ClientConn{
			"m3o.store.v1": conn, "m3o.config.v1": conn, "m3o.auth.v1": conn, "m3o.registry.v1": down,
		},
		Limits: limits,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range options {
		o(&cfg)
	}
	p := New(cfg)
	proxySrv := grpc.NewServer(append(p.ServerOptions(),
		grpc.Creds(credentials.NewTLS(mtls.ServerOnlyConfig(proxyBundle.Cert))))...)
	proxyAddr := serve(t, proxySrv)

	client, err := grpc.NewClient(proxyAddr, grpc.WithTransportCredentials(
		credentials.NewTLS(mtls.ClientRootsConfig(ca.Pool(), "127.0.0.1"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &fixture{client: client, backend: be, signer: token.NewSigner(kid, priv)}
}

func (f *fixture) token(t *testing.T, namespace string, expires time.Duration) string {
	t.Helper()
	now := time.Now()
	raw, err := f.signer.Sign(token.Claims{
		Subject: "acct-1", Namespace: namespace, Type: "user", Roles: []string{"developer"},
		IssuedAt: now, ExpiresAt: now.Add(expires), ID: token.NewID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestProxyRefusals(t *testing.T) {
	f := newFixture(t, RateLimit{})
	store := storev1.NewStoreServiceClient(f.client)
	cfg := configv1.NewConfigServiceClient(f.client)
	valid := f.token(t, "brave-otter-lamp", time.Minute)
	expired := f.token(t, "brave-otter-lamp", -time.Minute)

	tests := []struct {
		name string
		call func(ctx context.Context) error
		want codes.Code
	}{
		{"no token", func(ctx context.Context) error {
			_, err := store.Read(ctx, &storev1.ReadRequest{Key: "k"})
			return err
		}, codes.Unauthenticated},
		{"forged token", func(ctx context.Context) error {
			_, err := store.Read(identity.WithBearer(ctx, valid[:len(valid)-4]+"AAAA"), &storev1.ReadRequest{Key: "k"})
			return err
		}, codes.Unauthenticated},
		{"expired token", func(ctx context.Context) error {
			_, err := store.Read(identity.WithBearer(ctx, expired), &storev1.ReadRequest{Key: "k"})
			return err
		}, codes.Unauthenticated},
		{"not a bearer token", func(ctx context.Context) error {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Basic YWRtaW46YWRtaW4=")
			_, err := store.Read(ctx, &storev1.ReadRequest{Key: "k"})
			return err
		}, codes.Unauthenticated},
		{"denied by a namespace rule", func(ctx context.Context) error {
			_, err := cfg.Set(identity.WithBearer(ctx, valid), &configv1.SetRequest{Path: "a", Value: "1"})
			return err
		}, codes.PermissionDenied},
		{"unknown core service", func(ctx context.Context) error {
			return f.client.Invoke(identity.WithBearer(ctx, valid), "/m3o.nothing.v1.NothingService/Call", &storev1.ReadRequest{}, &storev1.ReadResponse{})
		}, codes.NotFound},
		{"user service without a resolver", func(ctx context.Context) error {
			return f.client.Invoke(identity.WithBearer(ctx, valid), "/hello.Hello/Call", &storev1.ReadRequest{}, &storev1.ReadResponse{})
		}, codes.NotFound},
		{"backend status passes through", func(ctx context.Context) error {
			_, err := store.Read(identity.WithBearer(ctx, valid), &storev1.ReadRequest{Key: "missing"})
			return err
		}, codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			if got := status.Code(err); got != tt.want {
				t.Errorf("call = %v, want code %v", err, tt.want)
			}
		})
	}
}

func TestProxyForwardsUnary(t *testing.T) {
	f := newFixture(t, RateLimit{})
	raw := f.token(t, "brave-otter-lamp", time.Minute)
	ctx, cancel := context.WithTimeout(identity.WithBearer(t.Context(), raw), 5*time.Second)
	defer cancel()

	resp, err := storev1.NewStoreServiceClient(f.client).Read(ctx, &storev1.ReadRequest{Key: "greeting"})
	if err != nil {
		t.Fatalf("Read through the proxy = %v, want success", err)
	}
	if got, want := string(resp.GetRecords()[0].GetValue()), "value of greeting"; got != want {
		t.Errorf("Read value = %q, want %q", got, want)
	}
	f.backend.mu.Lock()
	defer f.backend.mu.Unlock()
	if len(f.backend.auth) != 1 || f.backend.auth[0] != "Bearer "+raw {
		t.Errorf("backend saw authorization %q, want the caller's bearer token", f.backend.auth)
	}
	if !f.backend.deadline {
		t.Error("backend saw no deadline, want the caller's deadline propagated")
	}
}

func TestProxyForwardsPublicCallWithoutToken(t *testing.T) {
	f := newFixture(t, RateLimit{})
	resp, err := authv1.NewAuthServiceClient(f.client).Token(t.Context(), &authv1.TokenRequest{Id: "admin", Secret: "s3cret-pass"})
	if err != nil {
		t.Fatalf("Token through the proxy without a token = %v, want success", err)
	}
	if got, want := resp.GetToken().GetAccessToken(), "issued-for-admin"; got != want {
		t.Errorf("Token = %q, want %q", got, want)
	}
}

func TestProxyForwardsServerStream(t *testing.T) {
	f := newFixture(t, RateLimit{})
	ctx := identity.WithBearer(t.Context(), f.token(t, "brave-otter-lamp", time.Minute))
	stream, err := configv1.NewConfigServiceClient(f.client).Watch(ctx, &configv1.WatchRequest{Path: "db"})
	if err != nil {
		t.Fatal(err)
	}
	var versions []uint64
	for {
		msg, err := stream.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable || errors.Is(err, io.EOF) {
				t.Errorf("Watch ended with %v, want the backend's Unavailable", err)
			}
			break
		}
		if msg.GetValue() != "db" {
			t.Errorf("Watch message value = %q, want %q", msg.GetValue(), "db")
		}
		versions = append(versions, msg.GetVersion())
	}
	if len(versions) != 3 || versions[0] != 1 || versions[2] != 3 {
		t.Errorf("Watch versions = %v, want [1 2 3]", versions)
	}
}

func TestProxyRateLimit(t *testing.T) {
	f := newFixture(t, RateLimit{PerSecond: 0.001, Burst: 3})
	ctx := identity.WithBearer(t.Context(), f.token(t, "brave-otter-lamp", time.Minute))
	store := storev1.NewStoreServiceClient(f.client)
	for i := range 3 {
		if _, err := store.Read(ctx, &storev1.ReadRequest{Key: "k"}); err != nil {
			t.Fatalf("call %d within the burst = %v, want success", i+1, err)
		}
	}
	_, err := store.Read(ctx, &storev1.ReadRequest{Key: "k"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("call past the burst = %v, want ResourceExhausted", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Errorf("rate-limit details = %v, want a RetryInfo with a positive delay", status.Convert(err).Details())
	}
}

// TestProxyHidesTransportErrors calls a core service that is down: the
// caller learns it is unavailable, never the address the proxy dialled or
// the transport's error chain.
func TestProxyHidesTransportErrors(t *testing.T) {
	f := newFixture(t, RateLimit{})
	ctx := identity.WithBearer(t.Context(), f.token(t, "brave-otter-lamp", time.Hour))
	_, err := registryv1.NewRegistryServiceClient(f.client).ListServices(ctx, &registryv1.ListServicesRequest{})
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || strings.Contains(st.Message(), "127.0.0.1") || strings.Contains(st.Message(), "dial") {
		t.Errorf("ListServices() with the registry down = %v, want Unavailable with no address or transport detail", err)
	}
}

// TestProxyCapsOpenStreams holds an account's streams open up to the cap:
// one more is refused with ResourceExhausted naming the limit, and a
// stream closed makes room again.
func TestProxyCapsOpenStreams(t *testing.T) {
	f := newFixture(t, RateLimit{}, func(c *Config) { c.MaxStreams = 2 })
	ctx := identity.WithBearer(t.Context(), f.token(t, "brave-otter-lamp", time.Minute))
	client := configv1.NewConfigServiceClient(f.client)
	hold := func(ctx context.Context) error {
		stream, err := client.Watch(ctx, &configv1.WatchRequest{Path: "hold"})
		if err == nil {
			_, err = stream.Recv()
		}
		return err
	}
	first, closeFirst := context.WithCancel(ctx)
	for i := range 2 {
		c := ctx
		if i == 0 {
			c = first
		}
		if err := hold(c); err != nil {
			t.Fatalf("stream %d = %v, want it open", i+1, err)
		}
	}
	err := hold(ctx)
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "at most 2 streams") {
		t.Fatalf("third stream = %v, want ResourceExhausted naming the limit of 2", err)
	}
	closeFirst()
	deadline := time.Now().Add(30 * time.Second)
	for err := hold(ctx); err != nil; err = hold(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("stream after closing one = %v, want room again", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
