package local

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/service"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/runtime"
)

// Registry is what the backend asks of the registry about a service's
// nodes, in the domain of its namespace.
type Registry interface {
	// Nodes lists the service's registered nodes; none is not an error.
	Nodes(ctx context.Context, ref runtime.Ref) ([]Node, error)
	// Deregister takes the nodes out.
	Deregister(ctx context.Context, ref runtime.Ref, nodes []Node) error
}

// Node is one registered node of a service.
type Node struct {
	// ID is the node's id.
	ID string
	// Address is where it serves.
	Address string
	// Version is the version of the service it registered under.
	Version string
	// Instance is its metadata service.NodeInstanceKey.
	Instance string
}

// NewRegistry returns a Registry over the registry service's client. The
// connection must present the identity micro/runtime, which may read every
// domain and take nodes out of tenants' domains.
func NewRegistry(c registryv1.RegistryServiceClient) Registry { return registryClient{c} }

type registryClient struct {
	c registryv1.RegistryServiceClient
}

// Nodes implements Registry.
func (r registryClient) Nodes(ctx context.Context, ref runtime.Ref) ([]Node, error) {
	resp, err := r.c.GetService(ctx, &registryv1.GetServiceRequest{Name: ref.Name, Domain: ref.Namespace})
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nodes of %s: %w", ref, err)
	}
	var nodes []Node
	for _, svc := range resp.GetServices() {
		for _, n := range svc.GetNodes() {
			nodes = append(nodes, Node{ID: n.GetId(), Address: n.GetAddress(), Version: svc.GetVersion(), Instance: n.GetMetadata()[service.NodeInstanceKey]})
		}
	}
	return nodes, nil
}

// Deregister implements Registry: one call per version.
func (r registryClient) Deregister(ctx context.Context, ref runtime.Ref, nodes []Node) error {
	byVersion := map[string][]*registryv1.Node{}
	for _, n := range nodes {
		byVersion[n.Version] = append(byVersion[n.Version], &registryv1.Node{Id: n.ID, Address: n.Address})
	}
	for version, ns := range byVersion {
		svc := &registryv1.Service{Name: ref.Name, Version: version, Nodes: ns}
		_, err := r.c.Deregister(ctx, &registryv1.DeregisterRequest{Service: svc, Domain: ref.Namespace})
		if err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("deregister %s: %w", ref, err)
		}
	}
	return nil
}
