package identity_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/internal/grpctest"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/token"
)

// describe renders the Caller a handler saw, or "anonymous".
func describe(ctx context.Context) string {
	c, ok := identity.FromContext(ctx)
	if !ok {
		return "anonymous"
	}
	return fmt.Sprintf("ns=%s sub=%s svc=%s roles=%s admin=%v core=%v",
		c.Namespace, c.Subject, c.Service, strings.Join(c.Roles, ","), c.IsAdmin(), c.IsCoreService())
}

var whoami = grpctest.Handlers{
	Call: func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String(describe(ctx)), nil
	},
	Watch: func(ctx context.Context, _ *wrapperspb.StringValue) ([]string, error) {
		return []string{describe(ctx)}, nil
	},
}

// serve runs a platform server with the authenticator's interceptors on a
// loopback port, with tlsCfg, and returns its address.
func serve(t *testing.T, tlsCfg *tls.Config, a *identity.Authenticator) string {
	t.Helper()
	s := grpcserver.New(grpcserver.Options{
		TLS:    tlsCfg,
		Unary:  []grpc.UnaryServerInterceptor{a.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{a.StreamInterceptor()},
	})
	grpctest.Register(s.GRPC(), whoami)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx, lis)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return lis.Addr().String()
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("grpc.NewClient() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// issuer signs tokens for the tests, with a second, untrusted key for
// forgeries.
type issuer struct {
	signer, forger *token.Signer
	verifier       *token.Verifier
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	mk := func() *token.Signer {
		kid, priv, err := token.GenerateKey()
		if err != nil {
			t.Fatalf("GenerateKey() = %v", err)
		}
		return token.NewSigner(kid, priv)
	}
	i := &issuer{signer: mk(), forger: mk()}
	ks := token.NewKeySet()
	ks.Add(i.signer.KeyID(), i.signer.PublicKey())
	i.verifier = token.NewVerifier(ks)
	return i
}

func (i *issuer) token(t *testing.T, s *token.Signer, ns, sub string, roles []string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	raw, err := s.Sign(token.Claims{Subject: sub, Namespace: ns, Roles: roles, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(ttl)})
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return raw
}

func TestAuthenticateOverMTLS(t *testing.T) {
	ca := mtlstest.NewCA(t)
	iss := newIssuer(t)
	addr := serve(t, mtlstest.Bundle(t, ca, "micro", "store").ServerConfig(), identity.NewAuthenticator(iss.verifier))
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(t, ca, "micro", "config"), mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	viaProxy, err := grpcclient.Dial(addr, mtlstest.Bundle(t, ca, "micro", "proxy"), mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { viaProxy.Close() })

	tenant := iss.token(t, iss.signer, "brave-otter-lamp", "acc-1", []string{"developer"}, time.Hour)
	bearer := func(tok string) []string { return []string{"authorization", "Bearer " + tok} }
	tests := []struct {
		name string
		md   []string
		want string
		code codes.Code
	}{
		{"core service on its own behalf", nil, "ns=micro sub=config svc=config roles= admin=false core=true", codes.OK},
		{"tenant token carried by the proxy", bearer(tenant), "ns=brave-otter-lamp sub=acc-1 svc= roles=developer admin=false core=false", codes.OK},
		{"admin token", bearer(iss.token(t, iss.signer, "micro", "admin", []string{"admin"}, time.Hour)), "ns=micro sub=admin svc= roles=admin admin=true core=false", codes.OK},
		{"namespace header is ignored", append(bearer(tenant), "x-micro-namespace", "micro", "namespace", "micro"), "ns=brave-otter-lamp sub=acc-1 svc= roles=developer admin=false core=false", codes.OK},
		{"expired token does not fall back to mTLS", bearer(iss.token(t, iss.signer, "micro", "admin", []string{"admin"}, -time.Minute)), "", codes.Unauthenticated},
		{"forged token", bearer(iss.token(t, iss.forger, "micro", "admin", []string{"admin"}, time.Hour)), "", codes.Unauthenticated},
		{"token without namespace", bearer(iss.token(t, iss.signer, "", "acc-1", nil, time.Hour)), "", codes.Unauthenticated},
		{"garbage token", bearer("not-a-token"), "", codes.Unauthenticated},
		{"basic auth", []string{"authorization", "Basic dXNlcjpwYXNz"}, "", codes.Unauthenticated},
		{"empty authorization", []string{"authorization", ""}, "", codes.Unauthenticated},
		{"two tokens", append(bearer(tenant), bearer(tenant)...), "", codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(t.Context(), tt.md...)
			got, err := grpctest.Call(ctx, conn, "")
			if status.Code(err) != tt.code || got != tt.want {
				t.Errorf("Call() = %q, %v, want %q, code %v", got, err, tt.want, tt.code)
			}
		})
	}
	t.Run("proxy relays a call without a token", func(t *testing.T) {
		got, err := grpctest.Call(t.Context(), viaProxy, "")
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("Call() via the proxy without a token = %q, %v, want Unauthenticated", got, err)
		}
	})
	t.Run("tenant workload", func(t *testing.T) {
		workload, err := grpcclient.Dial(addr, mtlstest.Bundle(t, ca, "brave-otter-lamp", "hello"), mtls.Identity{Namespace: "micro", Service: "store"})
		if err != nil {
			t.Fatalf("Dial() = %v", err)
		}
		t.Cleanup(func() { workload.Close() })
		if got, err := grpctest.Call(t.Context(), workload, ""); status.Code(err) != codes.Unauthenticated {
			t.Errorf("Call() from a tenant workload without a token = %q, %v, want Unauthenticated", got, err)
		}
		want := "ns=brave-otter-lamp sub=acc-1 svc= roles=developer admin=false core=false"
		if got, err := grpctest.Call(identity.WithBearer(t.Context(), tenant), workload, ""); err != nil || got != want {
			t.Errorf("Call() from a tenant workload with its token = %q, %v, want %q", got, err, want)
		}
	})
	t.Run("proxy relays a tenant token", func(t *testing.T) {
		got, err := grpctest.Call(identity.WithBearer(t.Context(), tenant), viaProxy, "")
		if err != nil || !strings.HasPrefix(got, "ns=brave-otter-lamp sub=acc-1 ") {
			t.Errorf("Call() via the proxy with a token = %q, %v, want the tenant caller", got, err)
		}
	})
	t.Run("stream", func(t *testing.T) {
		got, err := grpctest.Watch(identity.WithBearer(t.Context(), tenant), conn, "")
		if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], "ns=brave-otter-lamp sub=acc-1 ") {
			t.Errorf("Watch() = %q, %v, want the tenant caller", got, err)
		}
	})
}

func TestAuthenticateWithoutClientCertificates(t *testing.T) {
	ca := mtlstest.NewCA(t)
	iss := newIssuer(t)
	proxyCert := mtlstest.Bundle(t, ca, "micro", "proxy").Cert
	strict := serve(t, mtls.ServerOnlyConfig(proxyCert), identity.NewAuthenticator(iss.verifier))
	public := serve(t, mtls.ServerOnlyConfig(proxyCert), identity.NewAuthenticator(iss.verifier, identity.WithPublicMethods(grpctest.CallMethod)))
	creds := credentials.NewTLS(mtls.ClientRootsConfig(ca.Pool(), "localhost"))
	tenant := iss.token(t, iss.signer, "brave-otter-lamp", "acc-1", nil, time.Hour)
	expired := iss.token(t, iss.signer, "brave-otter-lamp", "acc-1", nil, -time.Minute)

	tests := []struct {
		name string
		addr string
		tok  string
		want string
		code codes.Code
	}{
		{"no credentials", strict, "", "", codes.Unauthenticated},
		{"token", strict, tenant, "ns=brave-otter-lamp sub=acc-1 svc= roles= admin=false core=false", codes.OK},
		{"public method, no credentials", public, "", "anonymous", codes.OK},
		{"public method, token", public, tenant, "ns=brave-otter-lamp sub=acc-1 svc= roles= admin=false core=false", codes.OK},
		{"public method, expired token", public, expired, "anonymous", codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.tok != "" {
				ctx = identity.WithBearer(ctx, tt.tok)
			}
			got, err := grpctest.Call(ctx, dial(t, tt.addr, creds), "")
			if status.Code(err) != tt.code || got != tt.want {
				t.Errorf("Call() = %q, %v, want %q, code %v", got, err, tt.want, tt.code)
			}
		})
	}
	t.Run("health needs no identity", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(dial(t, strict, creds)).Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Health.Check() = %v, %v, want SERVING", resp.GetStatus(), err)
		}
	})
	t.Run("refusal is one sentence", func(t *testing.T) {
		_, err := grpctest.Call(t.Context(), dial(t, strict, creds), "")
		msg := status.Convert(err).Message()
		if !strings.HasSuffix(msg, ".") || strings.Count(msg, ". ") != 0 || strings.Contains(msg, "x509") {
			t.Errorf("Call() message = %q, want one plain sentence", msg)
		}
	})
}

func TestAuthenticateWithoutTransport(t *testing.T) {
	a := identity.NewAuthenticator(nil)
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"no credentials", t.Context()},
		{"token but no verifier", metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer abc.def.ghi"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := a.Authenticate(tt.ctx); !errors.Is(err, identity.ErrUnauthenticated) {
				t.Errorf("Authenticate() = %+v, %v, want ErrUnauthenticated", c, err)
			}
		})
	}
}

// TestTokenBeforeKeysLoaded: until the verifier's keys are loaded, a
// token is not judged: the call is Unavailable, to be tried again, not
// Unauthenticated; once they are, the same token is accepted.
func TestTokenBeforeKeysLoaded(t *testing.T) {
	i := newIssuer(t)
	ready := errors.New("not yet")
	ks := token.NewKeySet()
	ks.Add(i.signer.KeyID(), i.signer.PublicKey())
	a := identity.NewAuthenticator(token.NewVerifier(ks, token.WithReady(func() error { return ready })))
	raw := i.token(t, i.signer, "tenant-a", "alice", nil, time.Hour)
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+raw))
	call := func() error {
		_, err := a.UnaryInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/m3o.store.v1.StoreService/Read"},
			func(context.Context, any) (any, error) { return nil, nil })
		return err
	}
	if err := call(); status.Code(err) != codes.Unavailable {
		t.Errorf("call before the keys are loaded = %v, want Unavailable", err)
	}
	ready = nil
	if err := call(); err != nil {
		t.Errorf("call once the keys are loaded = %v, want it admitted", err)
	}
}
