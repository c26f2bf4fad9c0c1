package configserver

import (
	"context"
	"fmt"
	"log/slog"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// authVerifier returns a token verifier kept current from the auth service
// at addr, and a function that stops keeping it current. The keys are
// fetched once before it returns, so that the first call can be verified.
func authVerifier(ctx context.Context, addr string, bundle *mtls.Bundle, logger *slog.Logger) (*token.Verifier, func(), error) {
	conn, err := grpcclient.Dial(addr, bundle, AuthIdentity)
	if err != nil {
		return nil, nil, err
	}
	keys := authkeys.New(authv1.NewAuthServiceClient(conn), authkeys.Options{Logger: logger})
	if err := keys.Refresh(ctx); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("auth at %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		keys.Run(ctx)
	}()
	return keys.Verifier(), func() { cancel(); <-done; conn.Close() }, nil
}
