// Package grpcserver builds the gRPC server every platform service runs:
// panic recovery, request logs, Prometheus metrics, a default deadline,
// health and reflection, and a graceful stop when its context ends.
//
// Built-in interceptors, from go-grpc-middleware, run in this order,
// outermost first: metrics, logging, panic recovery, default deadline; then
// the extra interceptors of Options, such as identity's, in the order given.
package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
)

// Defaults for Options.
const (
	// DefaultDeadline bounds a unary call whose caller set no deadline.
	DefaultDeadline = 30 * time.Second
	// DefaultDrainTimeout is how long calls in flight get to finish when
	// the server stops.
	DefaultDrainTimeout = 10 * time.Second
)

// flowWindow is the HTTP/2 flow-control window, in bytes, of each stream
// and each connection the server receives on. A fixed window turns off
// grpc-go's bandwidth-delay estimation, which otherwise answers a client's
// call with a PING round and a window update: on a connection carrying one
// call at a time that is two more small writes and wake-ups on each side
// per call, about a tenth of a store read's latency over loopback. 4 MiB
// holds the largest request of any platform service, so no call waits for
// a window update either. Options.ServerOptions may set other windows.
const flowWindow = 4 << 20

// streamWorkers is how many goroutines wait to run calls. A call that finds
// one idle runs on its already grown stack instead of a new goroutine's, which
// saves a tenth of a store read over loopback; a call that finds all busy
// gets a new goroutine as before, so none waits for another to finish. There
// are as many as the calls a loaded server has in flight, not as many as
// cores: with one per core, under `micro bench`'s 64 clients nearly every
// call found them all busy, and micro server spent a seventh of its CPU
// growing new goroutines' stacks. An idle worker costs a goroutine, whose
// stack the garbage collector shrinks. grpc-go marks the option
// experimental.
var streamWorkers = uint32(max(64, 16*runtime.GOMAXPROCS(0)))

// Options configures a Server.
type Options struct {
	// TLS is the server's TLS configuration, normally from
	// mtls.Bundle.ServerConfig. Nil serves plain text, which is only for
	// tests over in-memory connections.
	TLS *tls.Config
	// Logger receives one line per call; nil discards.
	Logger *slog.Logger
	// Registerer receives the server's metrics; nil means a new registry,
	// available from Server.Gatherer.
	Registerer prometheus.Registerer
	// DefaultDeadline bounds unary calls whose caller set no deadline;
	// zero means DefaultDeadline. Streams get none: a watch may rightly
	// last for hours.
	DefaultDeadline time.Duration
	// DrainTimeout is how long Serve waits for calls in flight once its
	// context ends, before cutting them off; zero means
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Unary are extra unary interceptors, run after the built-ins in the
	// order given.
	Unary []grpc.UnaryServerInterceptor
	// Stream are extra stream interceptors, run after the built-ins in the
	// order given.
	Stream []grpc.StreamServerInterceptor
	// ServerOptions are passed to grpc.NewServer after the server's own.
	ServerOptions []grpc.ServerOption
}

// Server is a gRPC server with the platform's interceptors, health and
// reflection.
type Server struct {
	grpc      *grpc.Server
	registrar registrar
	health    *health.Server
	logger    *slog.Logger
	metrics   *grpcprom.ServerMetrics
	gatherer  prometheus.Gatherer
	deadline  time.Duration
	drain     time.Duration
}

// New builds a Server. Register services on GRPC() before calling Serve.
func New(opts Options) *Server {
	s := &Server{
		logger:   opts.Logger,
		deadline: opts.DefaultDeadline,
		drain:    opts.DrainTimeout,
		health:   health.NewServer(),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.deadline <= 0 {
		s.deadline = DefaultDeadline
	}
	if s.drain <= 0 {
		s.drain = DefaultDrainTimeout
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.gatherer, _ = reg.(prometheus.Gatherer)
	s.metrics = newMetrics(reg)
	codec := newDecodeCodec()
	s.grpc = grpc.NewServer(append([]grpc.ServerOption{grpc.ForceServerCodecV2(codec)}, s.serverOptions(opts)...)...)
	s.registrar = registrar{s: s.grpc, codec: codec}
	healthpb.RegisterHealthServer(s.registrar, s.health)
	reflection.Register(s.registrar)
	return s
}

// serverOptions assembles the options for grpc.NewServer.
func (s *Server) serverOptions(opts Options) []grpc.ServerOption {
	recover := s.recoveryOption()
	unary := append([]grpc.UnaryServerInterceptor{
		s.metrics.UnaryServerInterceptor(),
		s.logUnary,
		recovery.UnaryServerInterceptor(recover),
		s.deadlineUnary,
	}, opts.Unary...)
	stream := append([]grpc.StreamServerInterceptor{
		s.metrics.StreamServerInterceptor(),
		s.logStream,
		recovery.StreamServerInterceptor(recover),
	}, opts.Stream...)
	out := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		// Clients behind NATs send keepalives on idle connections; without
		// this policy the server would close them as abusive.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.InitialWindowSize(flowWindow),
		grpc.InitialConnWindowSize(flowWindow),
		grpc.NumStreamWorkers(streamWorkers),
	}
	if opts.TLS != nil {
		out = append(out, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	return append(out, opts.ServerOptions...)
}

// GRPC returns where to register services. A request a service cannot
// decode is answered InvalidArgument, not grpc-go's Internal.
func (s *Server) GRPC() grpc.ServiceRegistrar { return s.registrar }

// Health returns the health service, so that the caller can set the serving
// status of the server ("") or of each service.
func (s *Server) Health() *health.Server { return s.health }

// Gatherer returns the registry the metrics went to, or nil when
// Options.Registerer is not also a Gatherer.
func (s *Server) Gatherer() prometheus.Gatherer { return s.gatherer }

// Serve serves on lis until ctx ends, then stops gracefully: health turns
// NOT_SERVING, new calls are refused, and calls in flight get
// Options.DrainTimeout to finish before they are cut off. It returns nil
// after such a stop, or the error that ended serving early. Call it once.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.drain)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		s.logger.Warn("drain timed out, cutting off calls in flight", slog.Duration("drain_timeout", s.drain))
		s.grpc.Stop()
		<-stopped
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
