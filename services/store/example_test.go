package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/identity"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
)

// Example embeds the store in a process that already has a gRPC server, as
// an all-in-one `micro server` does: the identity interceptor runs before
// the service, and the sweep runs beside it.
func Example() {
	logger := slog.New(slog.DiscardHandler)
	backend := memory.New(nil) // pebble.Open or cockroach.Open in a real process
	defer backend.Close()
	svc := store.New(backend, logger, store.Options{QuotaBytes: 64 << 20})

	auth := identity.NewAuthenticator(nil)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(auth.UnaryInterceptor()))
	storev1.RegisterStoreServiceServer(srv, svc)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go store.Sweep(ctx, backend, time.Minute, logger)

	// What the interceptor does for a call from a tenant's account.
	ctx = identity.NewContext(ctx, identity.Caller{Namespace: "brave-otter-lamp", Subject: "acct-1"})
	resp, err := svc.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "greeting", Value: []byte("hello")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("version", resp.GetVersion())
	dbs, _ := svc.Databases(ctx, &storev1.DatabasesRequest{})
	fmt.Println(dbs.GetDatabases())
	// Output:
	// version 1
	// [brave-otter-lamp]
}
