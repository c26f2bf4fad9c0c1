package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

const (
	// registrationTTL is how long the node stays listed without a
	// heartbeat; heartbeats come three times as often, so one lost
	// heartbeat never unlists it.
	registrationTTL = 15 * time.Second
	heartbeat       = registrationTTL / 3
	// registryTimeout bounds one call to the registry.
	registryTimeout = 5 * time.Second
	// maxEndpoints is as many endpoints as the registry takes.
	maxEndpoints = 256
)

// registration keeps the instance's node listed in the registry, in the
// namespace's domain, under a lease that heartbeats renew.
type registration struct {
	client  registryv1.RegistryServiceClient
	service *registryv1.Service
	log     *slog.Logger
	listed  bool
	failing bool
}

// keep registers the node now and at every heartbeat until ctx ends. A
// failure is logged and retried at the next heartbeat.
func (r *registration) keep(ctx context.Context) {
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		r.register(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// register makes one registration, logging only when success turns to
// failure or back, so an outage does not fill the log.
func (r *registration) register(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	req := &registryv1.RegisterRequest{Service: r.service, TtlSeconds: uint32(registrationTTL / time.Second)}
	_, err := r.client.Register(ctx, req)
	switch {
	case err != nil && ctx.Err() != nil && !r.failing:
		return // stopping, or one slow heartbeat; the next one tells
	case err != nil && !r.failing:
		r.log.Warn("not registered, retrying at the next heartbeat", "error", err)
		r.failing = true
	case err == nil && !r.listed:
		r.log.Info("registered", "node", r.node().GetId(), "ttl", registrationTTL)
		r.listed, r.failing = true, false
	case err == nil && r.failing:
		r.log.Info("registered again")
		r.failing = false
	}
}

// remove takes the node off the registry, so that the proxy stops routing
// to it at once rather than after its TTL.
func (r *registration) remove() {
	if !r.listed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	if _, err := r.client.Deregister(ctx, &registryv1.DeregisterRequest{Service: r.service}); err != nil {
		r.log.Warn("deregister", "error", err)
		return
	}
	r.log.Info("deregistered", "node", r.node().GetId())
}

func (r *registration) node() *registryv1.Node { return r.service.GetNodes()[0] }

// listing is the registry entry of one instance.
func listing(env Env, address string, descs []*grpc.ServiceDesc) *registryv1.Service {
	node := &registryv1.Node{Id: nodeID(env), Address: address}
	if env.Instance != "" {
		node.Metadata = map[string]string{NodeInstanceKey: env.Instance}
	}
	return &registryv1.Service{
		Name: env.Name, Version: env.Version, Endpoints: endpoints(descs), Nodes: []*registryv1.Node{node},
	}
}

// nodeID is unique per instance and per start: the name, the instance
// number and a random suffix, so that a restarted instance never takes
// over, or takes down, the entry of the process it replaces.
func nodeID(env Env) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	parts := []string{env.Name}
	if env.Instance != "" {
		parts = append(parts, env.Instance)
	}
	return strings.Join(append(parts, hex.EncodeToString(b[:])), "-")
}

// endpoints lists the methods of the registered services as
// "Service.Method", with their message types when the service's proto
// descriptor is linked in, and the full gRPC method in the metadata.
func endpoints(descs []*grpc.ServiceDesc) []*registryv1.Endpoint {
	var out []*registryv1.Endpoint
	for _, d := range descs {
		sd := serviceDescriptor(d.ServiceName)
		for _, m := range d.Methods {
			out = append(out, endpoint(d.ServiceName, m.MethodName, sd, ""))
		}
		for _, s := range d.Streams {
			out = append(out, endpoint(d.ServiceName, s.StreamName, sd, streamKind(s)))
		}
	}
	return out[:min(len(out), maxEndpoints)]
}

func endpoint(service, method string, sd protoreflect.ServiceDescriptor, stream string) *registryv1.Endpoint {
	e := &registryv1.Endpoint{
		Name:     shortName(service) + "." + method,
		Metadata: map[string]string{"grpc_method": "/" + service + "/" + method},
	}
	if stream != "" {
		e.Metadata["stream"] = stream
	}
	if sd != nil {
		if md := sd.Methods().ByName(protoreflect.Name(method)); md != nil {
			e.Request, e.Response = string(md.Input().FullName()), string(md.Output().FullName())
		}
	}
	return e
}

// streamKind names which sides of a stream send several messages.
func streamKind(s grpc.StreamDesc) string {
	switch {
	case s.ClientStreams && s.ServerStreams:
		return "bidi"
	case s.ClientStreams:
		return "client"
	default:
		return "server"
	}
}

// serviceDescriptor returns the proto descriptor of a service, or nil.
func serviceDescriptor(name string) protoreflect.ServiceDescriptor {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil
	}
	sd, _ := d.(protoreflect.ServiceDescriptor)
	return sd
}

// shortName is a full service name without its package.
func shortName(service string) string {
	return service[strings.LastIndexByte(service, '.')+1:]
}
