package authkeys_test

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/authkeys"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// A service verifies tokens locally: it fetches the keys once before
// serving, then keeps them current in the background.
func Example() {
	var conn *grpc.ClientConn // an mTLS connection to the auth service, from grpcclient.Dial
	ctx := context.Background()

	keys := authkeys.New(authv1.NewAuthServiceClient(conn), authkeys.Options{Interval: 5 * time.Second, Logger: slog.Default()})
	if err := keys.Refresh(ctx); err != nil {
		slog.Error("fetch public keys", "error", err)
		return
	}
	go keys.Run(ctx)
	verifier := keys.Verifier()
	_ = verifier // hand to identity.NewAuthenticator
}
