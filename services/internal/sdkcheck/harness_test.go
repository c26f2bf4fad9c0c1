package sdkcheck_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/coretest"
)

// The tenants of the tests.
const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
)

// settle bounds every wait for the platform to catch up.
const settle = 30 * time.Second

// env is a platform running every core service users' services need.
type env struct {
	*coretest.Platform
	proxy    *grpc.ClientConn
	registry registryv1.RegistryServiceClient
}

// newEnv starts the platform.
func newEnv(t testing.TB) *env {
	t.Helper()
	p := coretest.New(t, coretest.Users...)
	p.ServeUsers(t)
	// The runtime reads where instances run as a core service: mTLS and no
	// token.
	reg := p.Dial(t, p.Addr(platform.Registry), platform.Namespace, platform.Runtime, coretest.Core(platform.Registry))
	return &env{Platform: p, proxy: p.ProxyConn(t), registry: registryv1.NewRegistryServiceClient(reg)}
}

// instance is a user's service running in process.
type instance struct {
	svc     *service.Service
	greeter *servicetest.Greeter
	addr    string
	logs    *syncBuffer
}

// run starts an instance of the user's service ns/name answering text, as
// the runtime would, until the test ends, and returns once the registry
// lists it.
func (e *env) run(t testing.TB, ns, name, text string) *instance {
	t.Helper()
	logs := &syncBuffer{}
	in := e.runLogged(t, ns, name, text, slog.New(slog.NewTextHandler(logs, nil)))
	in.logs = logs
	return in
}

// runLogged is run with the instance's logs going to log.
func (e *env) runLogged(t testing.TB, ns, name, text string, log *slog.Logger) *instance {
	t.Helper()
	vars := envMap(e.InstanceEnv(t, ns, name))
	in := &instance{greeter: servicetest.NewGreeter(text)}
	in.svc = service.New(name, service.WithEnvironment(func(k string) string { return vars[k] }), service.WithLogger(log))
	hellopb.RegisterHelloServer(in.svc, in.greeter)
	coretest.Go(t, ns+"/"+name, in.svc.RunContext)
	node := e.waitListed(t, ns, name, func(*registryv1.Node) bool { return true })
	in.addr = node.GetAddress()
	return in
}

// envMap turns an Env into what getenv reads.
func envMap(e service.Env) map[string]string {
	out := map[string]string{}
	for _, kv := range e.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// nodes returns the nodes the registry lists for ns/name.
func (e *env) nodes(ctx context.Context, ns, name string) ([]*registryv1.Node, error) {
	resp, err := e.registry.GetService(ctx, &registryv1.GetServiceRequest{Domain: ns, Name: name})
	if err != nil {
		return nil, err
	}
	var out []*registryv1.Node
	for _, s := range resp.GetServices() {
		out = append(out, s.GetNodes()...)
	}
	return out, nil
}

// waitListed polls the registry until a node of ns/name matches.
func (e *env) waitListed(t testing.TB, ns, name string, match func(*registryv1.Node) bool) *registryv1.Node {
	t.Helper()
	var found *registryv1.Node
	coretest.Eventually(t, "registry lists "+ns+"/"+name, func() error {
		nodes, err := e.nodes(t.Context(), ns, name)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(nodes, match); i >= 0 {
			found = nodes[i]
			return nil
		}
		return fmt.Errorf("nodes %v", nodes)
	})
	return found
}

// user is an account of a tenant calling through the proxy.
type user struct {
	id    string
	token string
	ctx   context.Context
}

// account creates a user account in ns and logs it in.
func (e *env) account(t testing.TB, ns, name string) user {
	t.Helper()
	id, tok := e.Account(t, ns, name)
	return user{id: id, token: tok, ctx: identity.WithBearer(t.Context(), tok)}
}

// to returns the user's context naming the user's service name.
func (u user) to(name string) context.Context {
	return metadata.AppendToOutgoingContext(u.ctx, platform.ServiceHeader, name)
}

// hello is the hello API through the proxy.
func (e *env) hello() hellopb.HelloClient { return hellopb.NewHelloClient(e.proxy) }

// syncBuffer is a bytes.Buffer safe for concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
