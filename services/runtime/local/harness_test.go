package local_test

import (
	"crypto/rand"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local"
	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/local/sdk"
	"m3o.dev/services/runtime/local/supervise"
)

// settle bounds a deployment, the first build of a namespace included:
// that one compiles gRPC into the namespace's fresh cache.
const settle = 15 * time.Minute

// env is a platform for the backend under test: store, auth, registry and
// the proxy on loopback, and the runtime's clients of them.
type env struct {
	p        *coretest.Platform
	registry registryv1.RegistryServiceClient
	accounts authv1.AccountsServiceClient
	mu       sync.Mutex
	creds    map[runtime.Ref][]string
}

// newEnv starts the platform the backend's instances talk to.
func newEnv(t *testing.T) *env {
	t.Helper()
	p := coretest.New(t, platform.Store, platform.Auth, platform.Registry, platform.Proxy)
	p.ServeStore(t)
	p.ServeAuth(t)
	p.ServeRegistry(t)
	p.ServeProxy(t)
	reg := p.Dial(t, p.Addr(platform.Registry), platform.Namespace, platform.Runtime, coretest.Core(platform.Registry))
	auth := p.Dial(t, p.Addr(platform.Auth), platform.Namespace, platform.Runtime, coretest.Core(platform.Auth))
	return &env{p: p, registry: registryv1.NewRegistryServiceClient(reg), accounts: authv1.NewAccountsServiceClient(auth),
		creds: map[runtime.Ref][]string{}}
}

// namespace makes a tenant namespace with an account of its own.
func (e *env) namespace(t *testing.T, ns string) string {
	t.Helper()
	e.p.Account(t, ns, "owner")
	return ns
}

// platformEnv returns MICRO_PROXY and the credentials of ref's service
// account, which it creates on first use as the runtime does.
func (e *env) platformEnv(t *testing.T, ref runtime.Ref) []string {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if creds, ok := e.creds[ref]; ok {
		return creds
	}
	secret := rand.Text()
	resp, err := e.accounts.Create(t.Context(), &authv1.CreateRequest{
		Namespace: ref.Namespace, Name: "service-" + ref.Name, Secret: secret,
		Type: authv1.AccountType_ACCOUNT_TYPE_SERVICE, Roles: []string{"service"},
	})
	if err != nil {
		t.Fatalf("create the service account of %s: %v", ref, err)
	}
	creds := []string{
		service.EnvProxy + "=" + e.p.Addr(platform.Proxy),
		service.EnvAccountID + "=" + resp.GetAccount().GetId(),
		service.EnvAccountSecret + "=" + secret,
	}
	e.creds[ref] = creds
	return creds
}

// backendOptions configure backends of one test: their directory can be
// searched by the namespaces' uids, unlike t.TempDir's parents.
type backendOptions struct {
	dir, sdkDir, modules string
	// proxy is this machine's GOPROXY, for what the module cache lacks.
	proxy  string
	signer *runtime.Signer
}

// sharedWork prepares a work directory, the SDK and the module download
// directory, seeded from this machine's module cache.
func (e *env) sharedWork(t *testing.T) backendOptions {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-local-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	sdkDir, err := sdk.Install(mkdir(t, dir, "sdk"))
	if err != nil {
		t.Fatal(err)
	}
	modules := filepath.Join(dir, "modules")
	if _, err := sdk.SeedModules(filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download"), modules); err != nil {
		t.Fatal(err)
	}
	return backendOptions{dir: filepath.Join(dir, "runtime"), sdkDir: sdkDir, modules: modules,
		proxy: goEnv(t, "GOPROXY"), signer: e.signer(t, time.Hour)}
}

// signer returns a signer over a fresh workload CA whose certificates live
// for validity.
func (e *env) signer(t *testing.T, validity time.Duration) *runtime.Signer {
	t.Helper()
	inter, err := e.p.CA.IssueIntermediate("test workload CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := runtime.NewSigner(inter, validity)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// backend opens a backend over o, closed when the test ends.
func (e *env) backend(t *testing.T, o backendOptions, startTimeout time.Duration) *local.Backend {
	t.Helper()
	b, err := local.New(local.Options{
		Dir: o.dir,
		Build: build.Options{SDKDir: o.sdkDir, SDKVersion: sdk.Version, ModuleDownloadDir: o.modules,
			Proxy: o.proxy, SumDB: "off"},
		Registry: local.NewRegistry(e.registry), Certs: o.signer,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Backoff: supervise.Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		Grace:   3 * time.Second, StartTimeout: startTimeout, PollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("local.New() = %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// nodes lists the registered nodes of ref.
func (e *env) nodes(t *testing.T, ref runtime.Ref) []local.Node {
	t.Helper()
	nodes, err := local.NewRegistry(e.registry).Nodes(t.Context(), ref)
	if err != nil {
		t.Fatalf("Nodes(%s) = %v", ref, err)
	}
	return nodes
}
