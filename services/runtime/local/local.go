// Package local is the runtime's backend that builds and runs developers'
// services as processes on this machine, through the packages beside it:
// sandbox (uids, environment, process groups), build (go build with the
// shipped SDK), supervise (crash backoff, memory watchdog) and logs.
//
// # Isolation
//
// When the server runs as root, each namespace's builds and instances run
// under a uid of their own, which can read neither the server's data
// directory nor another namespace's files; otherwise user code runs as the
// server's own user and must be trusted (Isolated says which). Either way
// every process starts from an empty environment, in its own process
// group, and dies with the server. There is no chroot, no cgroup and no
// network isolation: see the sandbox package and docs/security.md.
//
// # Rollouts
//
// Apply hands a deployment to a rollout in the background: fetch the
// source, build it, start its instances, and wait until the registry lists
// every one of them. The first deployment of a service serves as soon as
// it starts, and its state follows its instances. A later one serves
// only once all its instances are registered: until then the older one
// keeps serving, and if the new one fails to build, keeps crashing or is
// not registered within Options.StartTimeout, it is stopped and the older
// one stays, with the reason in Status. Instances get the lowest numbers
// the serving ones do not use, so old and new never share one.
//
// A deployment that differs from the serving release only in its instance
// count or resources is applied in place (see Apply).
//
// # Directories
//
//	<Dir>/sandbox/                       the sandbox (see package sandbox)
//	<Dir>/sandbox/src/<ns>/<name>_<id>/  a fetched source, readable by the namespace only
//	<Dir>/sandbox/ns/<ns>/bin/<name>.<generation>   a built binary
//	<Dir>/sandbox/ns/<ns>/tls/<name>/    the instances' MICRO_TLS_DIR
//	<Dir>/logs/<ns>/<name>/build.log     the latest build's log, the server's only
//	<Dir>/logs/<ns>/<name>/<n>/          instance n's log (package logs)
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/local/logs"
	"m3o.dev/services/runtime/local/sandbox"
	"m3o.dev/services/runtime/local/supervise"
)

// Defaults for Options.
const (
	// DefaultStartTimeout bounds how long an update's new instances may
	// take to be registered.
	DefaultStartTimeout = 2 * time.Minute
	// DefaultPollInterval is how often the registry is asked about
	// instances that are not registered yet.
	DefaultPollInterval = 500 * time.Millisecond
)

// Certifier signs the certificates of a service's instances;
// runtime.Signer is one.
type Certifier interface {
	Certify(ref runtime.Ref) (runtime.Certificate, error)
}

// Options configure a Backend.
type Options struct {
	// Dir holds everything the backend keeps (see the package
	// documentation). It must be outside the server's data directory, and
	// when the server runs as root every parent of it must be searchable
	// by others (o+x), since the namespaces' uids must reach their trees.
	Dir string
	// Build configures builds; its Sandbox is the backend's own.
	Build build.Options
	// Registry says when instances are registered, and takes stopped
	// instances' nodes out.
	Registry Registry
	// Certs signs the instances' certificates.
	Certs Certifier
	// Logger receives the backend's logs.
	Logger *slog.Logger
	// Backoff configures restarts after a crash; zero fields take the
	// supervise package's defaults (1s doubling to 60s, error after 5).
	Backoff supervise.Backoff
	// Grace is how long a stopping instance has after SIGTERM before
	// SIGKILL; zero means supervise.DefaultGrace.
	Grace time.Duration
	// StartTimeout bounds how long an update's instances may take to be
	// registered; zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// PollInterval is how often the registry is asked about instances
	// that are not registered yet; zero means DefaultPollInterval.
	PollInterval time.Duration
	// LogFileBytes is the size at which an instance's log rotates; an
	// instance keeps at most twice as much. Zero means
	// logs.DefaultFileBytes, 10 MiB per instance in all.
	LogFileBytes int64
}

// withDefaults checks the options and fills zero fields.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Dir == "":
		return o, errors.New("local backend: no directory")
	case o.Registry == nil || o.Certs == nil || o.Logger == nil:
		return o, errors.New("local backend: a registry, a certifier and a logger are required")
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.LogFileBytes <= 0 {
		o.LogFileBytes = logs.DefaultFileBytes
	}
	return o, nil
}

// Backend runs services as sandboxed processes. Close stops them all.
type Backend struct {
	opts    Options
	log     *slog.Logger
	sb      *sandbox.Sandbox
	builder *build.Builder
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu    sync.Mutex
	units map[runtime.Ref]*unit
}

var _ runtime.Backend = (*Backend)(nil)

// New opens the backend in opts.Dir. Before anything starts it kills the
// process groups a previous server left running (after a kill -9, say),
// so no orphan survives a restart.
func New(opts Options) (*Backend, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := makeDir(opts.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	sb, err := sandbox.New(sandbox.Config{Dir: filepath.Join(opts.Dir, "sandbox")})
	if err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	if killed, err := sandbox.KillOrphans(sb.Dir()); err != nil || killed > 0 {
		opts.Logger.Warn("killed processes a previous server left running", "groups", killed, "error", err)
	}
	if err := makeDir(filepath.Join(opts.Dir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	opts.Build.Sandbox = sb
	builder, err := build.New(opts.Build)
	if err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Backend{opts: opts, log: opts.Logger, sb: sb, builder: builder, ctx: ctx, cancel: cancel,
		units: map[runtime.Ref]*unit{}}, nil
}

// makeDir creates dir with exactly mode, whatever the umask.
func makeDir(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

// errorAfter is how many crashes in a row put an instance in error.
func (b *Backend) errorAfter() int {
	if b.opts.Backoff.ErrorAfter > 0 {
		return b.opts.Backoff.ErrorAfter
	}
	return supervise.DefaultErrorAfter
}

// Isolated reports whether namespaces run under uids of their own. When
// false, user code runs as the server's own user and is trusted.
func (b *Backend) Isolated() bool { return b.sb.Isolated() }

// Apply implements runtime.Backend. A deployment that changes only the
// instance count or the resources of the serving release is applied in
// place: instances are started or stopped, and the memory limit of those
// that run changes, with no build and no restart. CPU is not enforced.
func (b *Backend) Apply(_ context.Context, d runtime.Deployment) (runtime.Rollout, error) {
	if d.Source == nil || d.Generation == 0 || d.Instances < 1 {
		return runtime.Rollout{}, fmt.Errorf("apply %s: a deployment needs a source, a generation and an instance", d.Ref)
	}
	u, err := b.unit(d.Ref)
	if err != nil {
		return runtime.Rollout{}, err
	}
	return runtime.Rollout{Strategy: u.apply(d), Notes: []string{runtime.CPUNotEnforced}}, nil
}

// SetQuota implements runtime.Backend: the runtime's own checks are the
// only quota on this machine.
func (b *Backend) SetQuota(context.Context, string, runtime.Quota) error { return nil }

// unit returns the service's unit, making it on first use.
func (b *Backend) unit(ref runtime.Ref) (*unit, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u, ok := b.units[ref]; ok {
		return u, nil
	}
	if b.ctx.Err() != nil {
		return nil, errors.New("local backend: closed")
	}
	ns, err := b.sb.Namespace(ref.Namespace)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", ref, err)
	}
	u := newUnit(b, ref, ns)
	b.units[ref] = u
	return u, nil
}

// lookup returns the service's unit, or ErrNotFound.
func (b *Backend) lookup(ref runtime.Ref) (*unit, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.units[ref]
	if !ok {
		return nil, runtime.NotRunning(ref)
	}
	return u, nil
}

// Delete implements runtime.Backend.
func (b *Backend) Delete(ctx context.Context, ref runtime.Ref) error {
	b.mu.Lock()
	u, ok := b.units[ref]
	delete(b.units, ref)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	u.destroy(ctx)
	return nil
}

// Status implements runtime.Backend.
func (b *Backend) Status(_ context.Context, ref runtime.Ref) (runtime.Status, error) {
	u, err := b.lookup(ref)
	if err != nil {
		return runtime.Status{}, err
	}
	return u.status(), nil
}

// Logs implements runtime.Backend.
func (b *Backend) Logs(ctx context.Context, ref runtime.Ref, opts runtime.LogOptions, send func(runtime.LogLine) error) error {
	u, err := b.lookup(ref)
	if err != nil {
		return err
	}
	if opts.Build {
		return u.sendBuildLog(opts, send)
	}
	return u.sendLogs(ctx, opts, send)
}

// List implements runtime.Backend.
func (b *Backend) List(context.Context) ([]runtime.Ref, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	refs := make([]runtime.Ref, 0, len(b.units))
	for ref := range b.units {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b runtime.Ref) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return refs, nil
}

// Close stops every instance (SIGTERM, the grace period, SIGKILL), in
// parallel, and every rollout, and returns once nothing runs. The
// services are not forgotten by the platform: a restarted server runs
// them again.
func (b *Backend) Close() {
	b.cancel()
	b.mu.Lock()
	units := make([]*unit, 0, len(b.units))
	for _, u := range b.units {
		units = append(units, u)
	}
	b.units = map[runtime.Ref]*unit{}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, u := range units {
		wg.Go(func() { u.shutdown() })
	}
	wg.Wait()
	b.wg.Wait()
}
