package registry_test

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/registry"
	"m3o.dev/services/registry/memory"
)

// The service is a Backend behind registry.New, registered on a gRPC server
// whose interceptors establish each caller's identity (see registryserver).
// Below the service, a backend stores nodes per domain.
func Example() {
	backend := memory.New(memory.Options{})
	defer backend.Close()
	srv := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(srv, registry.New(backend, slog.Default()))

	ctx := context.Background()
	greeter := &registry.Service{Name: "greeter", Version: "v1", Nodes: []registry.Node{{ID: "n1", Address: "10.0.0.7:9000"}}}
	if err := backend.Register(ctx, "brave-otter-lamp", greeter, registry.DefaultTTL); err != nil {
		fmt.Println(err)
		return
	}
	versions, err := backend.GetService(ctx, "brave-otter-lamp", "greeter")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(versions[0].Name, versions[0].Version, versions[0].Nodes[0].Address)
	_, err = backend.GetService(ctx, "another-tenant", "greeter")
	fmt.Println(err)
	// Output:
	// greeter v1 10.0.0.7:9000
	// not found
}
