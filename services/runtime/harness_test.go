package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/billing"
	billinglocal "m3o.dev/services/billing/local"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/storeclient"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/source"
)

// recorder is a backend that runs nothing: it records what it is given
// and reports every deployment running at once. The service's own logic
// (namespaces, validation, records, sources, accounts) is what these tests
// look at; runtimetest holds real backends to the contract.
type recorder struct {
	mu       sync.Mutex
	deployed map[runtime.Ref][]runtime.Deployment
	deleted  []runtime.Ref
	quotas   map[string]runtime.Quota
}

var _ runtime.Backend = (*recorder)(nil)

func newRecorder() *recorder {
	return &recorder{deployed: map[runtime.Ref][]runtime.Deployment{}, quotas: map[string]runtime.Quota{}}
}

// Apply implements runtime.Backend: a deployment replaces the one before
// it by surging, as the local backend's updates do.
func (r *recorder) Apply(_ context.Context, d runtime.Deployment) (runtime.Rollout, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	strategy := runtime.StrategySurge
	if len(r.deployed[d.Ref]) == 0 {
		strategy = runtime.StrategyNone
	}
	r.deployed[d.Ref] = append(r.deployed[d.Ref], d)
	return runtime.Rollout{Strategy: strategy}, nil
}

// SetQuota implements runtime.Backend: it records the quota.
func (r *recorder) SetQuota(_ context.Context, ns string, q runtime.Quota) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.quotas[ns] = q
	return nil
}

// Delete implements runtime.Backend.
func (r *recorder) Delete(_ context.Context, ref runtime.Ref) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.deployed, ref)
	r.deleted = append(r.deleted, ref)
	return nil
}

// brokenVersion marks a deployment that does not take, as a source that
// does not build: the one before it keeps running.
const brokenVersion = "broken"

// Status implements runtime.Backend: the latest deployment runs unless it
// is broken, and then the newest before it that is not.
func (r *recorder) Status(_ context.Context, ref runtime.Ref) (runtime.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds := r.deployed[ref]
	if len(ds) == 0 {
		return runtime.Status{}, runtime.ErrNotFound
	}
	latest := ds[len(ds)-1].Generation
	st := runtime.Status{State: runtime.StateError, Generation: latest, Reason: "build failed"}
	for _, d := range slices.Backward(ds) {
		if d.Version != brokenVersion {
			st.State, st.RunningGeneration = runtime.StateRunning, d.Generation
			st.Instances = []runtime.InstanceStatus{{Number: 1, Generation: d.Generation, State: runtime.StateRunning}}
			break
		}
	}
	if st.State == runtime.StateRunning && st.RunningGeneration < latest {
		st.Reason = platform.NotTaken(latest, st.RunningGeneration, "build failed")
	}
	return st, nil
}

// Logs implements runtime.Backend: one line per deployment.
func (r *recorder) Logs(_ context.Context, ref runtime.Ref, _ runtime.LogOptions, send func(runtime.LogLine) error) error {
	r.mu.Lock()
	ds := slices.Clone(r.deployed[ref])
	r.mu.Unlock()
	if len(ds) == 0 {
		return runtime.ErrNotFound
	}
	for _, d := range ds {
		if err := send(runtime.LogLine{Time: time.Now(), Instance: 1, Stream: runtime.StreamStdout, Text: fmt.Sprintf("generation %d", d.Generation)}); err != nil {
			return err
		}
	}
	return nil
}

// List implements runtime.Backend.
func (r *recorder) List(context.Context) ([]runtime.Ref, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var refs []runtime.Ref
	for ref := range r.deployed {
		refs = append(refs, ref)
	}
	return refs, nil
}

// quotaSnapshot returns a copy of the quotas the backend was given.
func (r *recorder) quotaSnapshot() map[string]runtime.Quota {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.quotas)
}

// deployments returns every deployment of ref, oldest first.
func (r *recorder) deployments(ref runtime.Ref) []runtime.Deployment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deployed[ref])
}

// last returns the latest deployment of ref.
func (r *recorder) last(ref runtime.Ref) (runtime.Deployment, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds := r.deployed[ref]
	if len(ds) == 0 {
		return runtime.Deployment{}, false
	}
	return ds[len(ds)-1], true
}

// env is a store, an auth service and a runtime over a recorder, each on
// its own mTLS loopback listener.
type env struct {
	p       *coretest.Platform
	backend *recorder
	admin   context.Context
	store   *storeclient.Client
}

// options tune the runtime under test.
type options struct {
	quota      int
	allowLocal bool
	limits     source.Limits
	// billing runs a billing service whose statuses the runtime follows,
	// with no grace period, and the reconciliation.
	billing bool
	// reconcileInterval is the runtime's; 0 leaves its default.
	reconcileInterval time.Duration
}

// newEnv starts the platform and a runtime configured by o.
func newEnv(t *testing.T, o options) *env {
	t.Helper()
	p := coretest.New(t, platform.Store, platform.Auth, platform.Runtime, platform.Billing)
	p.ServeStore(t)
	p.ServeAuth(t)
	if o.billing {
		p.ServeBilling(t, billinglocal.New(), "http://127.0.0.1:8080")
	}
	e := &env{p: p, backend: newRecorder()}
	p.Run(t, platform.Runtime, func(ctx context.Context, proc *corekit.Process) error {
		if !o.billing {
			return proc.Serve(ctx, e.newService(t, proc, e.backend, o).Register, corekit.ServeOptions{})
		}
		standings, follow := followBilling(t, proc)
		svc := e.newService(t, proc, e.backend, o, standings)
		standings.OnChange(svc.Kick)
		return proc.Serve(ctx, svc.Register, corekit.ServeOptions{Background: []func(context.Context){svc.Reconcile, follow}})
	})
	_, token := p.Login(t, platform.Namespace, "admin", coretest.AdminPassword)
	e.admin = identity.WithBearer(t.Context(), token)
	conn := p.Dial(t, p.Addr(platform.Store), platform.Namespace, platform.Runtime, coretest.Core(platform.Store))
	e.store = storeclient.New(storev1.NewStoreServiceClient(conn), runtime.Database)
	return e
}

// followBilling returns billing's statuses for the runtime in proc, with
// no grace period, and what keeps them current.
func followBilling(t *testing.T, proc *corekit.Process) (*billing.Standings, func(context.Context)) {
	t.Helper()
	conn, err := proc.Dial(platform.Billing)
	if err != nil {
		t.Fatal(err)
	}
	standings := billing.NewStandings(0, slog.New(slog.DiscardHandler))
	client := billingv1.NewBillingServiceClient(conn)
	return standings, func(ctx context.Context) { standings.Run(ctx, client) }
}

// newService builds the runtime in its process, following payments when
// given them.
func (e *env) newService(t *testing.T, proc *corekit.Process, backend runtime.Backend, o options, payments ...runtime.Payments) *runtime.Service {
	t.Helper()
	storeConn, err := proc.Dial(platform.Store)
	if err != nil {
		t.Fatal(err)
	}
	authConn, err := proc.Dial(platform.Auth)
	if err != nil {
		t.Fatal(err)
	}
	opts := runtime.Options{
		Store: storev1.NewStoreServiceClient(storeConn), Backend: backend,
		Accounts: authv1.NewAccountsServiceClient(authConn), Namespaces: authv1.NewNamespacesServiceClient(authConn),
		Logger:       slog.New(slog.DiscardHandler),
		ProxyAddress: "127.0.0.1:8081", TempDir: t.TempDir(), QuotaServices: o.quota,
		Limits: o.limits, Git: source.GitOptions{AllowLocal: o.allowLocal},
		ReconcileInterval: o.reconcileInterval,
	}
	if len(payments) > 0 {
		opts.Payments = payments[0]
	}
	svc, err := runtime.New(opts)
	if err != nil {
		t.Fatalf("runtime.New() = %v", err)
	}
	return svc
}

// restart runs a second runtime over the same store, as a restarted
// server does, until the test ends, and returns its backend once the
// reconciliation handed it every service the first one runs. Its periodic
// pass comes after an hour, so that what follows the first pass within a
// test is the reconciliation's own doing.
func (e *env) restart(t *testing.T) *recorder {
	t.Helper()
	b := newRecorder()
	svc := e.newService(t, e.p.Process(t, platform.Runtime), b, options{reconcileInterval: time.Hour})
	coretest.Go(t, "reconcile", func(ctx context.Context) error { svc.Reconcile(ctx); return nil })
	want, _ := e.backend.List(t.Context())
	coretest.Eventually(t, "restore after a restart", func() error {
		got, _ := b.List(t.Context())
		if len(got) < len(want) {
			return fmt.Errorf("%d of %d services restored", len(got), len(want))
		}
		return nil
	})
	return b
}

// client returns a runtime client as users reach it: over the proxy's
// connection, with their bearer tokens in the context.
func (e *env) client(t *testing.T) runtimev1.RuntimeServiceClient {
	conn := e.p.Dial(t, e.p.Addr(platform.Runtime), platform.Namespace, platform.Proxy, coretest.Core(platform.Runtime))
	return runtimev1.NewRuntimeServiceClient(conn)
}

// tenant creates an account in ns with roles and returns its context.
func (e *env) tenant(t *testing.T, ns, name string, roles ...string) context.Context {
	t.Helper()
	const secret = "tenant-secret-123"
	_, accounts := e.p.Auth(t)
	_, err := accounts.Create(e.admin, &authv1.CreateRequest{Namespace: ns, Name: name, Secret: secret, Roles: roles})
	if err != nil {
		t.Fatalf("Create(%s/%s) = %v", ns, name, err)
	}
	_, token := e.p.Login(t, ns, name, secret)
	return identity.WithBearer(t.Context(), token)
}

// upload uploads archive as the source of the service name.
func upload(ctx context.Context, c runtimev1.RuntimeServiceClient, ns, name string, archive []byte) (string, error) {
	stream, err := c.Upload(ctx)
	if err != nil {
		return "", err
	}
	first := true
	for len(archive) > 0 || first {
		n := min(len(archive), 256<<10)
		req := &runtimev1.UploadRequest{Chunk: archive[:n]}
		if first {
			req.Name, req.Namespace, first = name, ns, false
		}
		if err := stream.Send(req); err != nil {
			break
		}
		archive = archive[n:]
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetSourceId(), err
}

// packDir packs files into a gzipped tar, as the CLI uploads a folder.
func packDir(t *testing.T, files map[string]string) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(dir+"/"+name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := source.Pack(&buf, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
