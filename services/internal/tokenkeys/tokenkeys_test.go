package tokenkeys_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/tokenkeys"
)

// publisher is an AuthService that only publishes one signing key.
type publisher struct {
	authv1.UnimplementedAuthServiceServer
	signer *token.Signer
}

// PublicKeys implements authv1.AuthServiceServer.
func (p *publisher) PublicKeys(context.Context, *authv1.PublicKeysRequest) (*authv1.PublicKeysResponse, error) {
	return &authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{{Kid: p.signer.KeyID(), Key: p.signer.PublicKey()}}}, nil
}

// serveAuth serves a publisher of signer on addr as the identity id until
// the test ends.
func serveAuth(t *testing.T, ca *mtls.CA, id mtls.Identity, addr string, signer *token.Signer) {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("Listen(%s) = %v", addr, err)
	}
	srv := grpcserver.New(grpcserver.Options{TLS: mtlstest.Bundle(t, ca, id.Namespace, id.Service).ServerConfig()})
	authv1.RegisterAuthServiceServer(srv.GRPC(), &publisher{signer: signer})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
}

// freeAddress returns a loopback address that refuses connections: nothing
// listens there, a moment ago at least.
func freeAddress(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

func newSigner(t *testing.T) (*token.Signer, string) {
	t.Helper()
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	signer := token.NewSigner(kid, priv)
	now := time.Now()
	raw, err := signer.Sign(token.Claims{Subject: "acct-1", Namespace: "brave-otter", IssuedAt: now, ExpiresAt: now.Add(time.Hour), ID: token.NewID()})
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return signer, raw
}

// TestStartBeforeAuth starts the keys while auth is not listening yet, as a
// store starting first does, and checks that tokens are refused until auth
// comes up and accepted shortly after.
func TestStartBeforeAuth(t *testing.T) {
	ca := mtlstest.NewCA(t)
	addr := freeAddress(t)
	signer, raw := newSigner(t)
	keys, err := tokenkeys.Start(t.Context(), addr, mtlstest.Bundle(t, ca, "micro", "store"), tokenkeys.Options{})
	if err != nil {
		t.Fatalf("Start(%s) with auth down = %v, want nil", addr, err)
	}
	defer keys.Close()

	time.Sleep(300 * time.Millisecond) // at least one failed attempt
	if err := keys.Ready(); !errors.Is(err, tokenkeys.ErrNotReady) {
		t.Errorf("Ready() with auth down = %v, want ErrNotReady", err)
	}
	if _, err := keys.Verifier().Verify(raw); err == nil {
		t.Errorf("Verify() with auth down = nil, want an error: no keys yet")
	}

	serveAuth(t, ca, tokenkeys.AuthIdentity, addr, signer)
	select {
	case <-keys.Loaded():
	case <-time.After(30 * time.Second):
		t.Fatal("keys not fetched 30s after auth came up")
	}
	if err := keys.Ready(); err != nil {
		t.Errorf("Ready() after auth came up = %v, want nil", err)
	}
	if _, err := keys.Verifier().Verify(raw); err != nil {
		t.Errorf("Verify() after auth came up = %v, want nil", err)
	}
}

// TestStartRefusesImpostor checks that keys published by a server that is
// not micro/auth, though its certificate is the platform's, are never
// trusted.
func TestStartRefusesImpostor(t *testing.T) {
	ca := mtlstest.NewCA(t)
	addr := freeAddress(t)
	signer, raw := newSigner(t)
	serveAuth(t, ca, mtls.Identity{Namespace: "micro", Service: "config"}, addr, signer)
	keys, err := tokenkeys.Start(t.Context(), addr, mtlstest.Bundle(t, ca, "micro", "store"), tokenkeys.Options{})
	if err != nil {
		t.Fatalf("Start(%s) = %v, want nil", addr, err)
	}
	defer keys.Close()
	time.Sleep(time.Second)
	if err := keys.Ready(); err == nil {
		t.Errorf("Ready() against micro/config = nil, want ErrNotReady")
	}
	if _, err := keys.Verifier().Verify(raw); err == nil {
		t.Errorf("Verify() of a token whose key came from micro/config = nil, want an error")
	}
}
