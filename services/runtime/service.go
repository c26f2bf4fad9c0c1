package runtime

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/storeclient"
	"m3o.dev/services/runtime/source"
)

// DefaultReconcileInterval is how often the runtime checks that the backend
// runs what the records say.
const DefaultReconcileInterval = 30 * time.Second

// Accounts is the part of the auth service's AccountsService the runtime
// uses; authv1.AccountsServiceClient has it. The connection must present
// micro/runtime, which manages tenants' service accounts.
type Accounts interface {
	Create(ctx context.Context, in *authv1.CreateRequest, opts ...grpc.CallOption) (*authv1.CreateResponse, error)
	Get(ctx context.Context, in *authv1.GetRequest, opts ...grpc.CallOption) (*authv1.GetResponse, error)
	ChangeSecret(ctx context.Context, in *authv1.ChangeSecretRequest, opts ...grpc.CallOption) (*authv1.ChangeSecretResponse, error)
	Delete(ctx context.Context, in *authv1.DeleteRequest, opts ...grpc.CallOption) (*authv1.DeleteResponse, error)
}

// Namespaces lists and reads the platform's namespaces, which auth owns;
// authv1.NamespacesServiceClient has it. The connection must present
// micro/runtime.
type Namespaces interface {
	List(ctx context.Context, in *authv1.NamespacesServiceListRequest, opts ...grpc.CallOption) (*authv1.NamespacesServiceListResponse, error)
	Get(ctx context.Context, in *authv1.NamespacesServiceGetRequest, opts ...grpc.CallOption) (*authv1.NamespacesServiceGetResponse, error)
}

// Options are what a Service needs.
type Options struct {
	// Store is a client of the store service whose mTLS identity is
	// micro/runtime, the one identity that may open _runtime.
	Store storeclient.Store
	// Backend builds and runs the services.
	Backend Backend
	// Accounts creates and deletes the services' accounts.
	Accounts Accounts
	// Namespaces lists the namespaces for ListNamespaces, and says
	// whether the one an admin's quota names exists.
	Namespaces Namespaces
	// Logger receives the service's logs.
	Logger *slog.Logger
	// ProxyAddress is the proxy's gRPC host:port that instances reach the
	// platform through (MICRO_PROXY).
	ProxyAddress string
	// Limits bound uploads and checkouts; zero fields take the source
	// package's defaults.
	Limits source.Limits
	// Git configures git sources; Git.AllowLocal is the operator's
	// --allow-local-git.
	Git source.GitOptions
	// TempDir is a directory of the server's own where uploads are checked
	// and checkouts packed.
	TempDir string
	// QuotaServices is how many services a namespace may have unless an
	// admin set its quota; 0 means DefaultQuotaServices. The default CPU
	// and memory are DefaultQuotaCPUMillis and DefaultQuotaMemoryMiB.
	QuotaServices int
	// ReconcileInterval is how often the backend is checked against the
	// records; 0 means DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// Payments, when set, stops the services of namespaces that must pay
	// and starts them again once payment resumes; call Kick when it
	// changes.
	Payments Payments
}

// Service implements runtimev1.RuntimeServiceServer. Its handlers expect
// the caller's verified identity in the context, as the identity
// interceptors of m3o.dev/pkg/identity put it there.
type Service struct {
	runtimev1.UnimplementedRuntimeServiceServer

	opts    Options
	log     *slog.Logger
	records records
	sources sources
	quotas  quotas
	backend Backend
	now     func() time.Time
	locks   keyedMutex
	kick    chan struct{}
}

// New returns a Service over opts.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Store == nil || opts.Backend == nil || opts.Accounts == nil || opts.Namespaces == nil || opts.Logger == nil:
		return nil, errors.New("runtime: options need a store, a backend, accounts and namespaces clients and a logger")
	case opts.ProxyAddress == "" || opts.TempDir == "":
		return nil, errors.New("runtime: options need the proxy's address and a temporary directory")
	}
	if opts.QuotaServices <= 0 {
		opts.QuotaServices = DefaultQuotaServices
	}
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = DefaultReconcileInterval
	}
	kv := storeclient.New(opts.Store, Database)
	now := time.Now
	return &Service{
		opts: opts, log: opts.Logger, backend: opts.Backend, now: now,
		records: records{kv: kv}, sources: sources{kv: kv, now: now},
		quotas: quotas{kv: kv, def: Quota{
			CPUMillis: DefaultQuotaCPUMillis, MemoryMiB: DefaultQuotaMemoryMiB, Services: uint32(opts.QuotaServices),
		}},
		kick: make(chan struct{}, 1),
	}, nil
}

// Register serves the service on srv.
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	runtimev1.RegisterRuntimeServiceServer(srv, s)
}

// Create implements runtimev1.RuntimeServiceServer.
func (s *Service) Create(ctx context.Context, req *runtimev1.CreateRequest) (*runtimev1.CreateResponse, error) {
	ref, ch, err := validateCreate(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rec, err := s.create(ctx, ref, ch)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &runtimev1.CreateResponse{Service: s.toProto(ctx, rec)}, nil
}

// Read implements runtimev1.RuntimeServiceServer.
func (s *Service) Read(ctx context.Context, req *runtimev1.ReadRequest) (*runtimev1.ReadResponse, error) {
	recs, err := s.read(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &runtimev1.ReadResponse{}
	for _, rec := range recs {
		svc := s.toProto(ctx, rec)
		if req.GetName() != "" {
			svc.Sources = s.sourcesToProto(ctx, rec, svc.GetRunningGeneration())
		}
		resp.Services = append(resp.Services, svc)
	}
	return resp, nil
}

// Update implements runtimev1.RuntimeServiceServer.
func (s *Service) Update(ctx context.Context, req *runtimev1.UpdateRequest) (*runtimev1.UpdateResponse, error) {
	ref, ch, err := validateUpdate(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	rec, ro, err := s.update(ctx, ref, ch)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &runtimev1.UpdateResponse{Service: s.toProto(ctx, rec), Rollout: rolloutToProto(ro.Strategy)}, nil
}

// Delete implements runtimev1.RuntimeServiceServer.
func (s *Service) Delete(ctx context.Context, req *runtimev1.DeleteRequest) (*runtimev1.DeleteResponse, error) {
	ref, err := validateRef(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := s.delete(ctx, ref); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &runtimev1.DeleteResponse{}, nil
}

// Logs implements runtimev1.RuntimeServiceServer.
func (s *Service) Logs(req *runtimev1.LogsRequest, stream grpc.ServerStreamingServer[runtimev1.LogsResponse]) error {
	ctx := stream.Context()
	ref, opts, err := validateLogs(ctx, req)
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.toStatus(ctx, s.logs(ctx, ref, opts, stream.Send))
}

// Upload implements runtimev1.RuntimeServiceServer.
func (s *Service) Upload(stream grpc.ClientStreamingServer[runtimev1.UploadRequest, runtimev1.UploadResponse]) error {
	ctx := stream.Context()
	resp, err := s.upload(ctx, stream)
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return stream.SendAndClose(resp)
}

// keyedMutex serialises work per key: changes to one service, and
// creations in one namespace, which the quota counts.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
