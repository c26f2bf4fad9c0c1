// Package registryserver runs the registry service in a core service
// process (see corekit): RegistryService over mTLS, over a backend the
// caller opens. OpenEtcd opens the etcd backend, starting an embedded etcd
// when asked. services/cmd/registry runs it on its own; `micro server`
// runs it beside the others.
package registryserver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"m3o.dev/pkg/platform"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/registry"
	"m3o.dev/services/registry/etcd"
	"m3o.dev/services/registry/etcdembed"
)

// Spec describes the registry's process. Until auth answers, only callers
// identified by mTLS get through; it lists itself in its own micro domain.
var Spec = corekit.Spec{Name: platform.Registry}

// Config is what the registry service needs besides its process.
type Config struct {
	// Backend keeps the registrations. The caller opens it, and closes it
	// after Run returns.
	Backend registry.Backend
}

// Validate checks that the configuration is complete.
func (c Config) Validate() error {
	if c.Backend == nil {
		return fmt.Errorf("%w: no backend", corekit.ErrConfig)
	}
	return nil
}

// Run serves the registry in p until ctx ends.
func Run(ctx context.Context, cfg Config, p *corekit.Process) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	srv := registry.New(cfg.Backend, p.Logger)
	register := func(r grpc.ServiceRegistrar) { registryv1.RegisterRegistryServiceServer(r, srv) }
	return p.Serve(ctx, register, corekit.ServeOptions{})
}

// OpenEtcd connects to the etcd at endpoints or, when embeddedDir is set,
// starts an embedded etcd with its data there and connects to that. The
// returned close function releases the client and the embedded server.
func OpenEtcd(endpoints []string, embeddedDir string, logger *slog.Logger) (registry.Backend, func(), error) {
	if (len(endpoints) == 0) == (embeddedDir == "") {
		return nil, nil, fmt.Errorf("%w: the etcd backend needs either etcd endpoints or an embedded etcd directory", corekit.ErrConfig)
	}
	stopEmbedded := func() {}
	if embeddedDir != "" {
		srv, err := etcdembed.Start(etcdembed.Options{Dir: embeddedDir, Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("open etcd backend: %w", err)
		}
		endpoints, stopEmbedded = srv.Endpoints(), srv.Close
	}
	// The client's own logger is silenced: the registry reports what an
	// outage means to its callers, and the client would repeat each retry.
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		stopEmbedded()
		return nil, nil, fmt.Errorf("open etcd backend at %v: %w", endpoints, err)
	}
	b, err := etcd.New(etcd.Options{Client: client, Logger: logger})
	if err != nil {
		client.Close()
		stopEmbedded()
		return nil, nil, fmt.Errorf("open etcd backend: %w", err)
	}
	return b, func() { client.Close(); stopEmbedded() }, nil
}
