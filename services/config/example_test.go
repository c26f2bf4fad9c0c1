package config_test

import (
	"context"
	"log/slog"
	"net"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/token"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/config"
)

// A process that embeds the config service, as `micro server` does,
// connects to the store service as micro/config, loads the keyring, and
// registers the Service on a gRPC server behind identity's interceptors.
func Example() {
	ctx := context.Background()
	var bundle *mtls.Bundle           // micro/config's certificate from the platform CA
	var storeAddr string              // where the store service listens
	var verifier *token.Verifier      // from pkg/authkeys, kept fresh from auth
	var ringFile = "/data/config.key" // written once by config.GenerateKeyring().WriteFile

	conn, err := grpcclient.Dial(storeAddr, bundle, mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		return
	}
	ring, err := config.LoadKeyring(ringFile)
	if err != nil {
		return
	}
	svc, err := config.New(config.Options{
		Store:   storev1.NewStoreServiceClient(conn),
		Keyring: ring,
		Logger:  slog.Default(),
	})
	if err != nil {
		return
	}
	auth := identity.NewAuthenticator(verifier)
	srv := grpcserver.New(grpcserver.Options{
		TLS:    bundle.ServerConfig(),
		Unary:  []grpc.UnaryServerInterceptor{auth.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{auth.StreamInterceptor()},
	})
	svc.Register(srv.GRPC())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	_ = srv.Serve(ctx, lis)
}
