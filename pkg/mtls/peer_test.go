package mtls_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

// grpcServer serves the health service over mTLS on a loopback port and
// sends the identity each call's handler saw to the returned channel.
func grpcServer(t *testing.T, b *mtls.Bundle) (addr string, seen <-chan mtls.Identity) {
	t.Helper()
	ids := make(chan mtls.Identity, 1)
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		id, err := mtls.PeerIdentity(ctx)
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		ids <- id
		return h(ctx, req)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(b.ServerConfig())), grpc.UnaryInterceptor(record))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), ids
}

func check(ctx context.Context, t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("grpc.NewClient() = %v", err)
	}
	defer conn.Close()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestPeerIdentity(t *testing.T) {
	ca := mtlstest.NewCA(t)
	addr, seen := grpcServer(t, mtlstest.Bundle(t, ca, "micro", "store"))
	caller := mtlstest.Bundle(t, ca, "brave-otter-lamp", "hello")
	creds := credentials.NewTLS(caller.ClientConfig(mtls.Identity{Namespace: "micro", Service: "store"}))
	if err := check(t.Context(), t, addr, creds); err != nil {
		t.Fatalf("Check() = %v, want nil", err)
	}
	want := mtls.Identity{Namespace: "brave-otter-lamp", Service: "hello"}
	if got := <-seen; got != want {
		t.Errorf("PeerIdentity() = %v, want %v", got, want)
	}
}

func TestGRPCRefusesStrangers(t *testing.T) {
	ca := mtlstest.NewCA(t)
	addr, _ := grpcServer(t, mtlstest.Bundle(t, ca, "micro", "store"))
	foreign := mtlstest.Bundle(t, mtlstest.NewCA(t), "micro", "proxy")
	store := mtls.Identity{Namespace: "micro", Service: "store"}
	tests := []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"plain text", insecure.NewCredentials()},
		{"foreign CA", credentials.NewTLS(foreign.ClientConfig(store))},
		{"no client certificate", credentials.NewTLS(mtls.ClientRootsConfig(ca.Pool(), ""))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check(t.Context(), t, addr, tt.creds)
			if got := status.Code(err); got != codes.Unavailable {
				t.Errorf("Check() = %v, want code Unavailable", err)
			}
		})
	}
}

func TestPeerIdentityWithoutTLS(t *testing.T) {
	_, err := mtls.PeerIdentity(t.Context())
	if !errors.Is(err, mtls.ErrNoIdentity) {
		t.Errorf("PeerIdentity(no peer) = %v, want ErrNoIdentity", err)
	}
}
