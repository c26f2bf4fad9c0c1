package corekit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// Process is what a core service runs in. Build it with Open, or, where
// one process runs several services (`micro server`), fill in the fields.
type Process struct {
	// Name is the core service: its identity is micro/<Name>.
	Name string
	// Bundle is its certificate, key and the platform CA.
	Bundle *mtls.Bundle
	// Listener is where its gRPC API is served.
	Listener net.Listener
	// HealthListener, when set, serves plain-text health only.
	HealthListener net.Listener
	// Advertise is the address listed in the registry; empty lists nothing.
	Advertise string
	// Peers are the addresses of the core services it calls.
	Peers Peers
	// Keys verify callers' bearer tokens; nil accepts only callers
	// identified by mTLS.
	Keys *authkeys.Client
	// Logger receives its logs.
	Logger *slog.Logger
	// Out receives what is shown to the operator once, such as a generated
	// admin password.
	Out io.Writer
	// Metrics receives its servers' metrics; nil gives each server its own
	// registry.
	Metrics prometheus.Registerer

	mu      sync.Mutex
	conns   []*grpc.ClientConn
	closers []func()
	ready   chan struct{}
	once    sync.Once
}

// Dial connects, as this process's identity, to the core service name at
// its address in Peers, checking that the server is micro/<name>. Like
// grpc.NewClient it connects on first use; Close closes it.
func (p *Process) Dial(name string) (*grpc.ClientConn, error) {
	return p.DialAs(p.Bundle, name)
}

// DialAs is Dial with another of the process's certificates, for the
// proxy's second identity.
func (p *Process) DialAs(b *mtls.Bundle, name string) (*grpc.ClientConn, error) {
	addr := p.Peers[name]
	if addr == "" {
		return nil, fmt.Errorf("no address for the %s service: %w", name, ErrConfig)
	}
	conn, err := grpcclient.Dial(addr, b, mtls.Identity{Namespace: platform.Namespace, Service: name})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.conns = append(p.conns, conn)
	p.mu.Unlock()
	return conn, nil
}

// DialStore connects to the store service, for the services that keep their
// state there.
func (p *Process) DialStore() (storev1.StoreServiceClient, error) {
	conn, err := p.Dial(platform.Store)
	if err != nil {
		return nil, err
	}
	return storev1.NewStoreServiceClient(conn), nil
}

// StartKeys fetches the token keys from the auth service in Peers and keeps
// them current until Close; a process without auth's address keeps Keys
// nil. It never waits for auth.
func (p *Process) StartKeys(ctx context.Context) error {
	// Auth checks tokens with the keys it signs with.
	if p.Peers[platform.Auth] == "" || p.Keys != nil || p.Name == platform.Auth {
		return nil
	}
	conn, err := p.Dial(platform.Auth)
	if err != nil {
		return err
	}
	p.Keys = authkeys.New(authv1.NewAuthServiceClient(conn), authkeys.Options{Logger: p.Logger.With("component", "authkeys")})
	p.onClose(p.Keys.Start(ctx))
	return nil
}

// Verifier returns a verifier of callers' tokens with the process's Keys,
// or nil, which refuses every token, when it has none.
func (p *Process) Verifier() *token.Verifier {
	if p.Keys == nil {
		return nil
	}
	return p.Keys.Verifier()
}

// KeysReady is a readiness check: nil once callers' tokens can be checked,
// or when the process accepts none.
func (p *Process) KeysReady() error {
	if p.Keys == nil {
		return nil
	}
	return p.Keys.Ready()
}

// Ready is closed once the service serves.
func (p *Process) Ready() <-chan struct{} { return p.readyChan() }

func (p *Process) readyChan() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready == nil {
		p.ready = make(chan struct{})
	}
	return p.ready
}

// MarkReady closes Ready; Serve calls it, and a service that serves by
// other means calls it once it does.
func (p *Process) MarkReady() {
	ready := p.readyChan()
	p.once.Do(func() { close(ready) })
}

// onClose registers cleanup for Close, which runs it last first.
func (p *Process) onClose(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closers = append(p.closers, f)
}

// Close stops the key refresh and closes the connections and listeners
// the process made. Call it once the service has returned.
func (p *Process) Close() {
	p.mu.Lock()
	closers, conns := p.closers, p.conns
	p.closers, p.conns = nil, nil
	p.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	for _, c := range conns {
		c.Close()
	}
}
