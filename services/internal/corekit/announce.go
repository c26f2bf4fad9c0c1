package corekit

import (
	"context"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

const (
	// listingTTL is how long a core service stays listed without a
	// heartbeat; heartbeats come three times as often.
	listingTTL       = 15 * time.Second
	listingHeartbeat = listingTTL / 3
	// unlistTimeout bounds the deregistration at shutdown.
	unlistTimeout = 2 * time.Second
)

// Announce lists the service in the registry's micro domain and keeps it
// listed until ctx ends, then takes it off, so that `micro services` shows
// the platform itself, in production as in `micro server`. Without the
// registry's address or an advertised address it does nothing.
func (p *Process) Announce(ctx context.Context) { p.AnnounceAs(ctx, p.Bundle) }

// AnnounceAs is Announce with another of the process's certificates: the
// proxy's relaying identity vouches for nobody, so it lists itself as
// micro/router.
func (p *Process) AnnounceAs(ctx context.Context, b *mtls.Bundle) {
	if p.Advertise == "" || p.Peers[platform.Registry] == "" {
		return
	}
	conn, err := p.DialAs(b, platform.Registry)
	if err != nil {
		p.Logger.Warn("not listed in the registry", "error", err)
		return
	}
	client := registryv1.NewRegistryServiceClient(conn)
	svc := p.listing()
	tick := time.NewTicker(listingHeartbeat)
	defer tick.Stop()
	for {
		p.register(ctx, client, svc)
		select {
		case <-ctx.Done():
			p.unlist(client, svc)
			return
		case <-tick.C:
		}
	}
}

func (p *Process) register(ctx context.Context, client registryv1.RegistryServiceClient, svc *registryv1.Service) {
	req := &registryv1.RegisterRequest{Service: svc, TtlSeconds: uint32(listingTTL / time.Second)}
	if _, err := client.Register(ctx, req); err != nil && ctx.Err() == nil {
		// The registry may start after us; the next heartbeat tries again.
		p.Logger.Debug("register in the registry", "error", err)
	}
}

// unlist takes this node off at shutdown, so that it is gone at once rather
// than after its TTL.
func (p *Process) unlist(client registryv1.RegistryServiceClient, svc *registryv1.Service) {
	ctx, cancel := context.WithTimeout(context.Background(), unlistTimeout)
	defer cancel()
	if _, err := client.Deregister(ctx, &registryv1.DeregisterRequest{Service: svc}); err != nil {
		p.Logger.Debug("deregister from the registry", "error", err)
	}
}

// listing is the service's entry: its API's endpoints and this node.
func (p *Process) listing() *registryv1.Service {
	row, _ := platform.Lookup(p.Name)
	return &registryv1.Service{
		Name:      p.Name,
		Version:   "v1",
		Endpoints: endpointsOf(row.Package),
		Nodes:     []*registryv1.Node{{Id: nodeID(p.Name, p.Advertise), Address: p.Advertise}},
	}
}

// nodeID names this replica: the service and its address, in the
// characters a node id may hold.
func nodeID(name, addr string) string {
	id := []byte(name + "-" + addr)
	for i, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			id[i] = '-'
		}
	}
	return string(id[:min(len(id), 128)])
}

// endpointsOf lists the methods of every service in a proto package as
// "Service.Method", the form users' services register. Only packages this
// binary links in are known; that is always the service's own.
func endpointsOf(pkg string) []*registryv1.Endpoint {
	var out []*registryv1.Endpoint
	if pkg == "" {
		return nil
	}
	protoregistry.GlobalFiles.RangeFilesByPackage(protoreflect.FullName(pkg), func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				out = append(out, &registryv1.Endpoint{
					Name:     string(sd.Name()) + "." + string(md.Name()),
					Request:  string(md.Input().FullName()),
					Response: string(md.Output().FullName()),
				})
			}
		}
		return true
	})
	return out
}
