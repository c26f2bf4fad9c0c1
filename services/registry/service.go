package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

var _ registryv1.RegistryServiceServer = (*Server)(nil)

// Server implements registryv1.RegistryServiceServer over a Backend. It
// expects the identity interceptors in front of it, which put the verified
// caller in each call's context.
type Server struct {
	registryv1.UnimplementedRegistryServiceServer

	backend Backend
	log     *slog.Logger
}

// New returns the service over backend, logging unexpected errors to logger
// (nil discards them).
func New(backend Backend, logger *slog.Logger) *Server {
	if logger == nil {
		logger = discardLogger
	}
	return &Server{backend: backend, log: logger}
}

// Register implements registryv1.RegistryServiceServer.
func (s *Server) Register(ctx context.Context, req *registryv1.RegisterRequest) (*registryv1.RegisterResponse, error) {
	domain, svc, ttl, err := validateRegister(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := s.backend.Register(ctx, domain, svc, ttl); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &registryv1.RegisterResponse{}, nil
}

// Deregister implements registryv1.RegistryServiceServer.
func (s *Server) Deregister(ctx context.Context, req *registryv1.DeregisterRequest) (*registryv1.DeregisterResponse, error) {
	domain, svc, err := validateDeregister(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := s.backend.Deregister(ctx, domain, svc); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &registryv1.DeregisterResponse{}, nil
}

// GetService implements registryv1.RegistryServiceServer.
func (s *Server) GetService(ctx context.Context, req *registryv1.GetServiceRequest) (*registryv1.GetServiceResponse, error) {
	domain, err := validateGet(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	svcs, err := s.backend.GetService(ctx, domain, req.GetName())
	if errors.Is(err, ErrNotFound) {
		// The caller's words, not the backend's, which name its keys.
		err = fmt.Errorf("no service %q registered in namespace %q: %w", req.GetName(), domain, ErrNotFound)
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &registryv1.GetServiceResponse{Services: toProtos(svcs)}, nil
}

// ListServices implements registryv1.RegistryServiceServer.
func (s *Server) ListServices(ctx context.Context, req *registryv1.ListServicesRequest) (*registryv1.ListServicesResponse, error) {
	domain, err := domainFor(ctx, "domain", req.GetDomain(), read)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	svcs, err := s.backend.ListServices(ctx, domain)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &registryv1.ListServicesResponse{Services: toProtos(svcs)}, nil
}

// Watch implements registryv1.RegistryServiceServer.
func (s *Server) Watch(req *registryv1.WatchRequest, stream registryv1.RegistryService_WatchServer) error {
	ctx := stream.Context()
	domain, err := validateWatch(ctx, req)
	if err != nil {
		return s.toStatus(ctx, err)
	}
	err = s.backend.Watch(ctx, domain, req.GetName(), func(ev Event) error {
		return stream.Send(eventToProto(ev))
	})
	if ctx.Err() != nil {
		// The client left or its deadline passed: nobody reads the status.
		return s.toStatus(ctx, ctx.Err())
	}
	return s.toStatus(ctx, err)
}
