package local_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local"
	"m3o.dev/services/runtime/runtimetest"
)

// TestConformance runs the runtime's conformance suite on the local
// backend, against a real store, auth, registry and proxy, then what only
// the local backend does: clearing nodes its instances left behind, and
// renewing certificates in place. They share the namespace's build cache,
// so only the first build compiles gRPC.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	work := e.sharedWork(t)
	const startTimeout = 10 * time.Second
	ns := e.namespace(t, "suite-space")
	runtimetest.Run(t, runtimetest.Harness{
		New:          func(t *testing.T) runtime.Backend { return e.backend(t, work, startTimeout) },
		Namespace:    ns,
		Env:          e.platformEnv,
		Settle:       settle,
		StartTimeout: startTimeout,
		ErrorAfter:   5,
	})
	t.Run("NodesLeftBehindAreCleared", func(t *testing.T) { testStaleNodes(t, e, work, ns) })
	t.Run("CertificatesRenewInPlace", func(t *testing.T) { testRenewal(t, e, work, ns) })
	t.Run("ResizeInPlace", func(t *testing.T) { testResizeInPlace(t, e, work, ns) })
	t.Run("MemoryWatchdogRestartsWithOOM", func(t *testing.T) { testOOM(t, e, work, ns) })
}

// greeter returns generation gen of the greeter as the service name.
func (e *env) greeter(t *testing.T, ns, name string, gen uint64) runtime.Deployment {
	ref := runtime.Ref{Namespace: ns, Name: name}
	return runtime.Deployment{Ref: ref, Generation: gen, Version: "v1", Source: runtimetest.Program(runtimetest.Greeter, "local"),
		Env: append([]string{"GREETING=local"}, e.platformEnv(t, ref)...), Instances: 1}
}

// testStaleNodes plants a node as an instance killed with its server would
// leave it, and kills an instance with SIGKILL, which leaves its node
// too: the backend takes both out, so the registry lists the live instance
// once.
func testStaleNodes(t *testing.T, e *env, work backendOptions, ns string) {
	b := e.backend(t, work, time.Minute)
	d := e.greeter(t, ns, "stale", 1)
	e.plantNode(t, d.Ref, "1")
	if _, err := b.Apply(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, b, d.Ref, 0)
	if nodes := e.nodes(t, d.Ref); len(nodes) != 1 || nodes[0].ID == "planted" {
		t.Fatalf("nodes once running = %+v, want the live instance's only", nodes)
	}
	killInstance(t, work, d.Ref, 1)
	waitRunning(t, b, d.Ref, 1)
	if nodes := e.nodes(t, d.Ref); len(nodes) != 1 {
		t.Errorf("nodes after a crash and a restart = %+v, want one: the killed process's node taken out", nodes)
	}
}

// plantNode registers a node of instance n of ref that no process serves.
func (e *env) plantNode(t *testing.T, ref runtime.Ref, n string) {
	t.Helper()
	_, token := e.p.Login(t, platform.Namespace, "admin", coretest.AdminPassword)
	svc := &registryv1.Service{Name: ref.Name, Version: "v1", Nodes: []*registryv1.Node{{
		Id: "planted", Address: "127.0.0.1:9", Metadata: map[string]string{service.NodeInstanceKey: n}}}}
	conn := e.p.Dial(t, e.p.Addr(platform.Registry), platform.Namespace, platform.Proxy, coretest.Core(platform.Registry))
	_, err := registryv1.NewRegistryServiceClient(conn).Register(identity.WithBearer(t.Context(), token),
		&registryv1.RegisterRequest{Service: svc, Domain: ref.Namespace, TtlSeconds: 3600})
	if err != nil {
		t.Fatalf("plant a node: %v", err)
	}
}

// waitRunning waits until ref's only instance runs after at least
// restarts restarts.
func waitRunning(t *testing.T, b *local.Backend, ref runtime.Ref, restarts int) runtime.Status {
	t.Helper()
	var st runtime.Status
	coretest.Eventually(t, "running", func() error {
		var err error
		if st, err = b.Status(t.Context(), ref); err != nil {
			return err
		}
		if st.State != runtime.StateRunning || len(st.Instances) != 1 || st.Instances[0].Restarts < restarts {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	return st
}

// killInstance sends SIGKILL to instance n's process group.
func killInstance(t *testing.T, work backendOptions, ref runtime.Ref, n int) {
	t.Helper()
	pidFile := filepath.Join(work.dir, "sandbox", "run", fmt.Sprintf("%s.%s-%d.pid", ref.Namespace, ref.Name, n))
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	field, _, _ := strings.Cut(strings.TrimPrefix(string(data), "pgid="), " ")
	pgid, err := strconv.Atoi(field)
	if err != nil {
		t.Fatalf("pid file %q", data)
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// testRenewal runs an instance whose certificate lives a few seconds: the
// backend writes a new one before it expires, and the instance is not
// restarted for it.
func testRenewal(t *testing.T, e *env, work backendOptions, ns string) {
	short := work
	short.signer = e.signer(t, 6*time.Second)
	b := e.backend(t, short, time.Minute)
	d := e.greeter(t, ns, "renewed", 1)
	if _, err := b.Apply(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, b, d.Ref, 0)
	certFile := filepath.Join(work.dir, "sandbox", "ns", ns, "tls", "renewed", service.CertFile)
	first, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	coretest.Eventually(t, "a renewed certificate", func() error {
		if now, _ := os.ReadFile(certFile); len(now) == 0 || string(now) == string(first) {
			return fmt.Errorf("%s unchanged", certFile)
		}
		return nil
	})
	if st := waitRunning(t, b, d.Ref, 0); st.Instances[0].Restarts != 0 {
		t.Errorf("the instance restarted %d times for a renewal, want none", st.Instances[0].Restarts)
	}
}
