// Package coretest runs real core services on mTLS loopback listeners, as
// they run in production, for the tests of the process wiring packages
// (storeserver, registryserver, proxyserver): each in a corekit.Process of
// its own, a store over the memory backend, an auth service over that
// store, and logged-in accounts.
//
// Every listener is opened before any service starts, on port 0, so that
// each service knows its peers' addresses up front and no port is ever
// guessed. Auth runs with cheap password hashing and keys that sign at
// once; every other setting is the production one.
package coretest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/corekit"
)

// AdminPassword is the bootstrap admin's password.
const AdminPassword = "admin-password-123"

// settle bounds how long a service may take to come up or to pick up
// auth's keys; it only keeps a broken build from hanging.
const settle = 30 * time.Second

// Platform is the core services of one test. Its listeners are opened when
// it is made; a service listed but never started refuses nothing at TCP
// level but never answers, as a service still starting does.
type Platform struct {
	// CA is the platform CA every certificate comes from.
	CA        *mtls.CA
	listeners map[string]net.Listener

	mu          sync.Mutex
	started     []*corekit.Process // by Process, in order
	authServing bool
	proxyHTTP   string // by ServeProxy
}

// New opens a loopback listener for each core service named, closed when
// the test ends.
func New(t testing.TB, names ...string) *Platform {
	t.Helper()
	p := &Platform{CA: mtlstest.NewCA(t), listeners: map[string]net.Listener{}}
	for _, name := range names {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("Listen(%s) = %v", name, err)
		}
		t.Cleanup(func() { lis.Close() })
		p.listeners[name] = lis
	}
	return p
}

// Addr returns the address of the core service name.
func (p *Platform) Addr(name string) string {
	return p.listeners[name].Addr().String()
}

// Listener returns the listener of the core service name.
func (p *Platform) Listener(name string) net.Listener { return p.listeners[name] }

// Peers returns the addresses of every core service of the platform.
func (p *Platform) Peers() corekit.Peers {
	peers := corekit.Peers{}
	for name := range p.listeners {
		peers[name] = p.Addr(name)
	}
	return peers
}

// Process returns the Process the core service name runs in, as `micro
// server` builds it: its certificate, its listener, every peer's address,
// and the token keys from auth, which it fetches on its own.
func (p *Platform) Process(t testing.TB, name string) *corekit.Process {
	t.Helper()
	proc := &corekit.Process{
		Name: name, Bundle: mtlstest.Bundle(t, p.CA, platform.Namespace, name),
		Listener: p.listeners[name], Advertise: p.Addr(name), Peers: p.Peers(),
		Logger: slog.New(slog.DiscardHandler), Out: io.Discard,
	}
	if name != platform.Auth {
		if err := proc.StartKeys(t.Context()); err != nil {
			t.Fatalf("StartKeys(%s) = %v", name, err)
		}
	}
	t.Cleanup(proc.Close)
	p.mu.Lock()
	p.started = append(p.started, proc)
	p.mu.Unlock()
	return proc
}

// Run runs a service in its process until the test ends, and waits until
// it serves.
func (p *Platform) Run(t testing.TB, name string, run func(context.Context, *corekit.Process) error) {
	t.Helper()
	proc := p.Process(t, name)
	Go(t, name, func(ctx context.Context) error { return run(ctx, proc) })
	select {
	case <-proc.Ready():
	case <-time.After(settle):
		t.Fatalf("%s not serving after %s", name, settle)
	}
	p.waitForKeys(t, name, proc)
}

// waitForKeys waits, once auth serves, until the services started so far
// have its keys: until then they answer every token Unavailable, and tests
// start calling once tokens can be judged.
func (p *Platform) waitForKeys(t testing.TB, name string, proc *corekit.Process) {
	t.Helper()
	p.mu.Lock()
	if name == platform.Auth {
		p.authServing = true
	}
	waiting := p.started
	if !p.authServing {
		waiting = nil
	}
	p.mu.Unlock()
	for _, q := range waiting {
		Eventually(t, q.Name+" loading auth's keys", q.KeysReady)
	}
}

// Dial connects to addr as the mTLS identity ns/svc, expecting the server
// to be expect, until the test ends.
func (p *Platform) Dial(t testing.TB, addr, ns, svc string, expect mtls.Identity) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(t, p.CA, ns, svc), expect)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", expect, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Core returns the identity of the core service name.
func Core(name string) mtls.Identity { return corekit.Identity(name) }

// Go runs f until the test ends, then cancels its context and waits for it,
// reporting what it returned unless that was nil or a cancellation.
func Go(t testing.TB, what string, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("%s = %v", what, err)
		}
	})
}

// Eventually calls f until it returns nil, for as long as a service may
// take to settle, and fails the test with f's last error otherwise.
func Eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	EventuallyWithin(t, what, settle, f)
}

// EventuallyWithin is Eventually for at most bound, for what takes longer
// than a service to settle, such as a build on a cold cache. The bound only
// ends a test that would otherwise hang.
func EventuallyWithin(t testing.TB, what string, bound time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %s", what, err, bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
