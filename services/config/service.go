package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	configv1 "m3o.dev/proto/m3o/config/v1"
)

// Options are what a Service needs.
type Options struct {
	// Store is a client of the store service whose mTLS identity is
	// micro/config, the one identity the store lets open _config.
	Store Store
	// Keyring seals and opens secrets.
	Keyring *Keyring
	// Logger receives the service's logs; it never sees a value.
	Logger *slog.Logger
	// PollInterval is how often a watcher looks for changes made through
	// other replicas; 0 means DefaultPollInterval.
	PollInterval time.Duration
}

// Service implements configv1.ConfigServiceServer. It keeps nothing another
// replica would need: every request reads the store, and the only state in
// process is the set of local watchers to wake.
//
// Its handlers expect the caller's verified identity in the context, as the
// identity interceptors of m3o.dev/pkg/identity put it there.
type Service struct {
	configv1.UnimplementedConfigServiceServer

	docs documents
	ring *Keyring
	log  *slog.Logger
	poll time.Duration
	now  func() time.Time
	hub  hub
	// rounds gathers this replica's changes of each namespace.
	rounds rounds
}

// New returns a Service over the store client in opts.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("config: options need a store client")
	case opts.Keyring == nil:
		return nil, errors.New("config: options need a keyring")
	case opts.Logger == nil:
		return nil, errors.New("config: options need a logger")
	case opts.PollInterval < 0:
		return nil, fmt.Errorf("config: poll interval %s is negative", opts.PollInterval)
	}
	poll := opts.PollInterval
	if poll == 0 {
		poll = DefaultPollInterval
	}
	return &Service{
		docs: newDocuments(opts.Store),
		ring: opts.Keyring,
		log:  opts.Logger,
		poll: poll,
		now:  time.Now,
	}, nil
}

// Register serves the service on s.
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	configv1.RegisterConfigServiceServer(srv, s)
}

// Get implements configv1.ConfigServiceServer.
func (s *Service) Get(ctx context.Context, req *configv1.GetRequest) (*configv1.GetResponse, error) {
	t, err := validateGet(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	value, version, err := s.get(ctx, t, req.GetSecret())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &configv1.GetResponse{Value: value, Version: version}, nil
}

// Set implements configv1.ConfigServiceServer.
func (s *Service) Set(ctx context.Context, req *configv1.SetRequest) (*configv1.SetResponse, error) {
	t, value, err := validateSet(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	version, err := s.set(ctx, t, value, req.GetSecret())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &configv1.SetResponse{Version: version}, nil
}

// Delete implements configv1.ConfigServiceServer.
func (s *Service) Delete(ctx context.Context, req *configv1.DeleteRequest) (*configv1.DeleteResponse, error) {
	t, err := validateTarget(ctx, req.GetNamespace(), req.GetPath())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	version, err := s.delete(ctx, t)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &configv1.DeleteResponse{Version: version}, nil
}

// History implements configv1.ConfigServiceServer.
func (s *Service) History(ctx context.Context, req *configv1.HistoryRequest) (*configv1.HistoryResponse, error) {
	t, err := validateTarget(ctx, req.GetNamespace(), req.GetPath())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	changes, err := s.history(ctx, t)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &configv1.HistoryResponse{Changes: changes}, nil
}

// Rollback implements configv1.ConfigServiceServer.
func (s *Service) Rollback(ctx context.Context, req *configv1.RollbackRequest) (*configv1.RollbackResponse, error) {
	t, err := validateRollback(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	version, err := s.rollback(ctx, t, req.GetVersion())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &configv1.RollbackResponse{Version: version}, nil
}

// Watch implements configv1.ConfigServiceServer. It sends the response
// headers as soon as the watch is in place: a client that waits for them
// (ClientStream.Header) misses no change made after.
func (s *Service) Watch(req *configv1.WatchRequest, stream grpc.ServerStreamingServer[configv1.WatchResponse]) error {
	ctx := stream.Context()
	t, err := validateTarget(ctx, req.GetNamespace(), req.GetPath())
	if err != nil {
		return s.toStatus(ctx, err)
	}
	ready := func() error { return stream.SendHeader(nil) }
	return s.toStatus(ctx, s.watch(ctx, t, ready, stream.Send))
}
