package proxy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/rules"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
	"m3o.dev/pkg/token"
)

func TestDestinationOf(t *testing.T) {
	tests := []struct {
		name, service string
		header        []string
		want          destination
		wantErr       error
	}{
		{"core API", "m3o.store.v1.StoreService", nil, destination{pkg: "m3o.store.v1"}, nil},
		{"core API whatever the header", "m3o.store.v1.StoreService", []string{"hello"}, destination{pkg: "m3o.store.v1"}, nil},
		{"by header", "greeter.v1.Greeter", []string{"hello"}, destination{user: "hello"}, nil},
		{"by package", "greeter.v1.Greeter", nil, destination{user: "greeter"}, nil},
		{"one-label package", "hello.Hello", nil, destination{user: "hello"}, nil},
		{"health by header", "grpc.health.v1.Health", []string{"hello"}, destination{user: "hello"}, nil},
		{"no package, no header", "Hello", nil, destination{}, ErrUnknownService},
		{"header not a name", "hello.Hello", []string{"Hello_World"}, destination{}, ErrBadServiceName},
		{"two headers", "hello.Hello", []string{"hello", "other"}, destination{}, ErrBadServiceName},
		{"package not a name", "Hello_World.Hello", nil, destination{}, ErrBadServiceName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := metadata.MD{}
			for _, h := range tt.header {
				md.Append(platform.ServiceHeader, h)
			}
			got, err := destinationOf(metadata.NewIncomingContext(t.Context(), md), tt.service)
			if got != tt.want || (err == nil) != (tt.wantErr == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("destinationOf(%q, %q) = %+v, %v, want %+v, %v", tt.service, tt.header, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// userBackend is a user's service stand-in: a Greeter over mTLS as
// brave-otter-lamp/hello that records the metadata of each call, and whose
// health says NOT_SERVING, unlike the proxy's own.
type userBackend struct {
	greeter *servicetest.Greeter
	mu      sync.Mutex
	md      metadata.MD
}

func (u *userBackend) record(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	u.mu.Lock()
	u.md = md
	u.mu.Unlock()
	return h(ctx, req)
}

func (u *userBackend) seen() metadata.MD {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.md
}

// staticResolver routes every user's service of one namespace to conn.
type staticResolver struct {
	namespace string
	conn      *grpc.ClientConn
}

func (s staticResolver) Resolve(_ context.Context, namespace, service, _ string) (*grpc.ClientConn, bool, error) {
	if namespace != s.namespace || service != "hello" {
		return nil, false, &NotRunningError{Service: service, Namespace: namespace}
	}
	return s.conn, false, nil
}

// userFixture is a proxy in front of one user's service.
type userFixture struct {
	client *grpc.ClientConn
	user   *userBackend
	token  string
}

func newUserFixture(t *testing.T) *userFixture {
	t.Helper()
	ca := mtlstest.NewCA(t)
	u := &userBackend{greeter: servicetest.NewGreeter("Hello")}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(mtlstest.Bundle(t, ca, "brave-otter-lamp", "hello").ServerConfig())),
		grpc.UnaryInterceptor(u.record))
	hellopb.RegisterHelloServer(srv, u.greeter)
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, h)
	proxyBundle := mtlstest.Bundle(t, ca, "micro", "proxy")
	conn, err := grpcclient.Dial(serve(t, srv), proxyBundle, mtls.Identity{Namespace: "brave-otter-lamp", Service: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := token.NewKeySet()
	keys.Add(kid, priv.Public().(ed25519.PublicKey))
	p := New(Config{
		Verifier: token.NewVerifier(keys),
		Authorizer: NewRulesAuthorizer(rules.NewCache(staticRules{
			rules.NamespaceDefault("brave-otter-lamp"),
			// A user's service is the resource named after it, its
			// endpoints Service.Method.
			{ID: "no-hold", Namespace: "brave-otter-lamp", Scope: "*", Access: rules.Deny, Priority: 10,
				Resource: rules.Resource{Type: rules.TypeService, Name: "hello", Endpoint: "Hello.Hold"}},
		}, slog.New(slog.DiscardHandler), time.Minute)),
		Resolver: staticResolver{namespace: "brave-otter-lamp", conn: conn},
		Logger:   slog.New(slog.DiscardHandler),
	})
	proxySrv := grpc.NewServer(append(p.ServerOptions(), grpc.Creds(credentials.NewTLS(mtls.ServerOnlyConfig(proxyBundle.Cert))))...)
	healthpb.RegisterHealthServer(proxySrv, health.NewServer())
	client, err := grpc.NewClient(serve(t, proxySrv), grpc.WithTransportCredentials(credentials.NewTLS(mtls.ClientRootsConfig(ca.Pool(), "127.0.0.1"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	now := time.Now()
	raw, err := token.NewSigner(kid, priv).Sign(token.Claims{
		Subject: "acct-1", Namespace: "brave-otter-lamp", Type: "user", Roles: []string{"developer"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), ID: token.NewID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &userFixture{client: client, user: u, token: raw}
}

// TestForwardedToUserService checks what a user's service learns of its
// caller: the proxy's word, never the caller's.
func TestForwardedToUserService(t *testing.T) {
	f := newUserFixture(t)
	ctx := metadata.AppendToOutgoingContext(identity.WithBearer(t.Context(), f.token),
		identity.CallerNamespaceKey, "micro", identity.CallerRolesKey, "admin", "x-custom", "kept")
	resp, err := hellopb.NewHelloClient(f.client).Call(ctx, &hellopb.CallRequest{Name: "Ann"})
	if err != nil || resp.GetMessage() != "Hello Ann" {
		t.Fatalf("Call(Ann) by package = %v, %v, want Hello Ann", resp, err)
	}
	md := f.user.seen()
	got := map[string][]string{}
	for _, k := range []string{identity.CallerNamespaceKey, identity.CallerAccountKey, identity.CallerRolesKey, platform.ServiceHeader, "authorization", "x-custom"} {
		got[k] = md.Get(k)
	}
	want := map[string][]string{
		identity.CallerNamespaceKey: {"brave-otter-lamp"}, identity.CallerAccountKey: {"acct-1"}, identity.CallerRolesKey: {"developer"},
		platform.ServiceHeader: {"hello"}, "authorization": {"Bearer " + f.token}, "x-custom": {"kept"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user's service saw metadata (-want +got):\n%s", diff)
	}
}

func TestUserServiceRefusals(t *testing.T) {
	f := newUserFixture(t)
	hello := hellopb.NewHelloClient(f.client)
	tok := identity.WithBearer(t.Context(), f.token)
	hold := func(ctx context.Context) error {
		_, err := hello.Hold(ctx, &hellopb.HoldRequest{Name: "x"})
		return err
	}
	call := func(ctx context.Context) error {
		_, err := hello.Call(ctx, &hellopb.CallRequest{Name: "Ann"})
		return err
	}
	tests := []struct {
		name string
		ctx  context.Context
		call func(context.Context) error
		want codes.Code
		msg  string
	}{
		{"no token", t.Context(), call, codes.Unauthenticated, ""},
		{"denied by a namespace rule", tok, hold, codes.PermissionDenied, ""},
		{"not running", metadata.AppendToOutgoingContext(tok, platform.ServiceHeader, "other"), call, codes.NotFound,
			`service "other" is not running in namespace "brave-otter-lamp"`},
		{"bad header", metadata.AppendToOutgoingContext(tok, platform.ServiceHeader, "Other"), call, codes.InvalidArgument, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(tt.ctx)
			if status.Code(err) != tt.want || (tt.msg != "" && status.Convert(err).Message() != tt.msg) {
				t.Errorf("Call() = %v, want %v %q", err, tt.want, tt.msg)
			}
		})
	}
	if got := f.user.greeter.Calls(); got != 0 {
		t.Errorf("user's service counted %d refused calls, want 0", got)
	}
}

// TestAnsweredBy checks that a status the user's service itself ends a
// call with carries the micro-answered-by trailer, on a unary call and on a
// stream, and that the proxy's own refusals do not.
func TestAnsweredBy(t *testing.T) {
	f := newUserFixture(t)
	tok := identity.WithBearer(t.Context(), f.token)
	var trailer metadata.MD
	unknown := func(ctx context.Context) error {
		return f.client.Invoke(ctx, "/hello.Hello/Nope", &hellopb.CallRequest{}, &hellopb.CallResponse{}, grpc.Trailer(&trailer))
	}
	tooMany := func(ctx context.Context) error {
		s, err := hellopb.NewHelloClient(f.client).Stream(ctx, &hellopb.StreamRequest{Name: "Ann", Count: 1000}, grpc.Trailer(&trailer))
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	tests := []struct {
		name string
		ctx  context.Context
		call func(context.Context) error
		code codes.Code
		want []string
	}{
		{"the service's unary refusal", tok, unknown, codes.Unimplemented, []string{"hello"}},
		{"the service's refusal of a stream", tok, tooMany, codes.InvalidArgument, []string{"hello"}},
		{"the proxy's refusal", metadata.AppendToOutgoingContext(tok, platform.ServiceHeader, "other"), tooMany, codes.NotFound, nil},
		{"no token", t.Context(), unknown, codes.Unauthenticated, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trailer = nil
			err := tt.call(tt.ctx)
			if got := trailer.Get(platform.AnsweredByTrailer); status.Code(err) != tt.code || !cmp.Equal(got, tt.want) {
				t.Errorf("call = %v with %s %q, want %v with %q", err, platform.AnsweredByTrailer, got, tt.code, tt.want)
			}
		})
	}
}

// TestHealthByHeader checks that health answers for the proxy itself, and
// for the user's service the micro-service header names.
func TestHealthByHeader(t *testing.T) {
	f := newUserFixture(t)
	h := healthpb.NewHealthClient(f.client)
	tok := identity.WithBearer(t.Context(), f.token)
	tests := []struct {
		name string
		ctx  context.Context
		want healthpb.HealthCheckResponse_ServingStatus
	}{
		{"the proxy", t.Context(), healthpb.HealthCheckResponse_SERVING},
		{"the user's service", metadata.AppendToOutgoingContext(tok, platform.ServiceHeader, "hello"), healthpb.HealthCheckResponse_NOT_SERVING},
	}
	for _, tt := range tests {
		resp, err := h.Check(tt.ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != tt.want {
			t.Errorf("%s: Check() = %v, %v, want %v", tt.name, resp, err, tt.want)
		}
	}
}

// TestCoreReflection checks that the proxy lists the core APIs over both
// versions of reflection.
func TestCoreReflection(t *testing.T) {
	f := newUserFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v1, err := reflectionv1.NewServerReflectionClient(f.client).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v1.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := v1.Recv()
	if err != nil {
		t.Fatalf("v1 Recv() = %v", err)
	}
	names := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		names[s.GetName()] = true
	}
	for _, want := range []string{"m3o.store.v1.StoreService", "m3o.auth.v1.SignupService", "m3o.billing.v1.BillingService", "grpc.health.v1.Health"} {
		if !names[want] {
			t.Errorf("v1 reflection lists %v, want %s among them", names, want)
		}
	}
	alpha, err := reflectionv1alpha.NewServerReflectionClient(f.client).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "m3o.store.v1.StoreService"}}
	if err := alpha.Send(req); err != nil {
		t.Fatal(err)
	}
	if r, err := alpha.Recv(); err != nil || len(r.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("v1alpha FileContainingSymbol(StoreService) = %v, %v, want its file", r, err)
	}
}
