package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

const (
	// catalogTTL is how long a core service stays registered without a
	// heartbeat; heartbeats come three times as often.
	catalogTTL       = 15 * time.Second
	catalogHeartbeat = catalogTTL / 3
)

// catalogEntries are the core services listed in the registry's micro
// domain, with the proto package whose services they serve.
var catalogEntries = []struct{ name, pkg string }{
	{svcStore, "m3o.store.v1"},
	{svcRegistry, "m3o.registry.v1"},
	{svcAuth, "m3o.auth.v1"},
	{svcConfig, "m3o.config.v1"},
}

// startCatalog registers the core services in the registry and keeps them
// registered, so `micro services` and the resolver see the platform itself.
func (p *platform) startCatalog() error {
	conn, err := p.dial(svcRouter, svcRegistry)
	if err != nil {
		return err
	}
	client := registryv1.NewRegistryServiceClient(conn)
	services := p.catalog()
	log := p.log.With("component", "catalog")
	register(p.ctx, client, services, log)
	p.run(func(ctx context.Context) {
		tick := time.NewTicker(catalogHeartbeat)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				register(ctx, client, services, log)
			}
		}
	})
	return nil
}

func register(ctx context.Context, client registryv1.RegistryServiceClient, services []*registryv1.Service, log *slog.Logger) {
	for _, svc := range services {
		req := &registryv1.RegisterRequest{Service: svc, TtlSeconds: uint32(catalogTTL / time.Second)}
		if _, err := client.Register(ctx, req); err != nil && ctx.Err() == nil {
			log.Warn("register core service", "name", svc.GetName(), "error", err)
		}
	}
}

func (p *platform) catalog() []*registryv1.Service {
	var out []*registryv1.Service
	for _, e := range catalogEntries {
		out = append(out, &registryv1.Service{
			Name:      e.name,
			Version:   "v1",
			Endpoints: endpointsOf(e.pkg),
			Nodes:     []*registryv1.Node{{Id: e.name + "-1", Address: p.addr(e.name)}},
		})
	}
	return out
}

// endpointsOf lists the methods of every service in a proto package as
// "Service.Method", the form users' services register.
func endpointsOf(pkg string) []*registryv1.Endpoint {
	var out []*registryv1.Endpoint
	protoregistry.GlobalFiles.RangeFilesByPackage(protoreflect.FullName(pkg), func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
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
