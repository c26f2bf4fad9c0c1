package grpcserver_test

import (
	"context"
	"fmt"
	"net"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/mtls"
)

// A service builds its server, registers its handlers on GRPC(), and serves
// until its context ends.
func Example() {
	ca := must(mtls.NewCA("m3o", 24*time.Hour))
	store := must(ca.Issue(mtls.Identity{Namespace: "micro", Service: "store"}, nil, time.Hour))
	proxy := must(ca.Issue(mtls.Identity{Namespace: "micro", Service: "proxy"}, nil, time.Hour))

	srv := grpcserver.New(grpcserver.Options{TLS: store.ServerConfig()})
	// storev1.RegisterStoreServiceServer(srv.GRPC(), service) goes here.
	lis := must(net.Listen("tcp", "127.0.0.1:0"))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, lis) }()

	conn := must(grpcclient.Dial(lis.Addr().String(), proxy, store.Identity))
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println(resp.GetStatus(), err)
	conn.Close()
	stop()
	fmt.Println(<-done)
	// Output:
	// SERVING <nil>
	// <nil>
}

// must keeps the example to the point; real code handles each error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
