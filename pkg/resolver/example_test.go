package resolver_test

import (
	"context"
	"log"

	"google.golang.org/grpc"

	"m3o.dev/pkg/resolver"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// A service resolves the nodes of another from memory: Run feeds the cache
// from the registry's Watch, and Pick answers without a round trip.
func Example() {
	var conn *grpc.ClientConn // an mTLS connection to the registry, or the proxy
	r := resolver.New(registryv1.NewRegistryServiceClient(conn), resolver.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	<-r.Ready()

	node, err := r.Pick("greeter")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("calling greeter at %s", node.GetAddress())
}
