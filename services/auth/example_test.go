package auth_test

import (
	"context"
	"log/slog"
	"net"
	"os"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
)

// A process that embeds the auth service, as `micro server` does, connects
// to the store service as micro/auth, builds the Service, and serves it
// beside its maintenance loop.
func Example() {
	ctx := context.Background()
	var bundle *mtls.Bundle // micro/auth's certificate from the platform CA
	var storeAddr string    // where the store service listens

	conn, err := grpcclient.Dial(storeAddr, bundle, mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		return
	}
	cfg := auth.DefaultConfig()
	cfg.DataDir = "/var/lib/m3o"
	svc, err := auth.New(ctx, cfg, auth.Deps{
		Store:  storev1.NewStoreServiceClient(conn),
		Logger: slog.Default(),
		Out:    os.Stdout, // a generated admin password is printed here, once
	})
	if err != nil {
		return
	}
	go svc.Run(ctx)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	_ = svc.Server(bundle.ServerConfig()).Serve(ctx, lis)
}
