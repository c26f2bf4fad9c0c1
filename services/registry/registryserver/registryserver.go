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

// EtcdOptions say which etcd the registry keeps its records in, and how it
// proves itself to it.
type EtcdOptions struct {
	// Endpoints are an etcd cluster's client endpoints, host:port.
	Endpoints []string
	// Embedded, when set instead, starts an etcd member in this process.
	Embedded *etcdembed.Options
	// TLS is the registry's client certificate under the etcd CA, the one
	// credential etcd accepts; nil speaks plain text, which only tests do.
	TLS *etcdembed.TLSFiles
	// Logger receives etcd's errors.
	Logger *slog.Logger
}

// OpenEtcd connects to the etcd o names, starting the embedded member
// first when asked. The returned close function releases the client and
// the member.
func OpenEtcd(o EtcdOptions) (registry.Backend, func(), error) {
	if (len(o.Endpoints) == 0) == (o.Embedded == nil) {
		return nil, nil, fmt.Errorf("%w: the etcd backend needs either etcd endpoints or an embedded etcd directory", corekit.ErrConfig)
	}
	endpoints, stopEmbedded := o.Endpoints, func() {}
	if o.Embedded != nil {
		srv, err := etcdembed.Start(*o.Embedded)
		if err != nil {
			return nil, nil, fmt.Errorf("open etcd backend: %w", err)
		}
		endpoints, stopEmbedded = srv.Endpoints(), srv.Close
		o.Logger.Info("embedded etcd serving", "endpoint", endpoints[0], "tls", o.Embedded.TLS != nil)
	}
	b, closeClient, err := connect(endpoints, o)
	if err != nil {
		stopEmbedded()
		return nil, nil, err
	}
	return b, func() { closeClient(); stopEmbedded() }, nil
}

// connect opens a client of the etcd at endpoints and the backend over it.
func connect(endpoints []string, o EtcdOptions) (registry.Backend, func(), error) {
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if o.TLS != nil {
		tlsConfig, err := o.TLS.ClientConfig()
		if err != nil {
			return nil, nil, fmt.Errorf("open etcd backend: %w", err)
		}
		cfg.TLS = tlsConfig
	}
	// The client's own logger is silenced: the registry reports what an
	// outage means to its callers, and the client would repeat each retry.
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("open etcd backend at %v: %w", endpoints, err)
	}
	b, err := etcd.New(etcd.Options{Client: client, Logger: o.Logger})
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("open etcd backend: %w", err)
	}
	return b, func() { client.Close() }, nil
}
