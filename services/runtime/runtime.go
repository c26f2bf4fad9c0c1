// Package runtime is the platform's runtime service: m3o.runtime.v1.RuntimeService
// over a Backend that builds and runs developers' services.
//
// # Namespaces
//
// Every call acts in the caller's namespace, from its verified identity. An
// admin of micro may name another namespace in a request's namespace field;
// anyone else who sets it is refused. A tenant naming a service only ever
// reaches its own: another namespace's service of the same name is as
// absent as one that does not exist. Services never run in micro, whose
// identities the workload CA never signs.
//
// # State
//
// The service keeps what should run in the store service's `_runtime`
// system database, which only micro/runtime may open, so that another
// replica, or this one after a restart, runs the same services:
//
//	table "services", key <ns>/<name>            the service: spec, options, generation
//	table "sources",  key <ns>/<source id>        an uploaded source: size, checksum, chunk count
//	table "chunks",   key <ns>/<source id>/<n>    the source's gzipped tar, in records of at most 1 MiB
//
// A git source is fetched once per generation, packed and stored like an
// upload, so a restart rebuilds the very tree that was built before. The
// last SourcesKept sources of each service name are kept. Build outputs
// are only a backend's cache.
//
// # The contract with an instance
//
// An instance of a service gets exactly this environment, and nothing of
// the server's own, which holds keys and passwords:
//
//	MICRO_ADDRESS          where to listen, host:port; port 0 means any, and the
//	                       instance registers the address it bound
//	MICRO_TLS_DIR          a directory with ca.pem (the platform CA), cert.pem (the
//	                       instance's certificate, spiffe://m3o/ns/<ns>/svc/<name>,
//	                       followed by the workload CA's) and key.pem; the runtime
//	                       replaces them, each by an atomic rename and key.pem
//	                       before cert.pem, when a third of the certificate's
//	                       24 hours is left, and the instance reloads them
//	MICRO_NAMESPACE        the namespace
//	MICRO_SERVICE_NAME     the service's name
//	MICRO_SERVICE_VERSION  the service's version label, as registered
//	MICRO_INSTANCE         the instance's number, from 1
//	MICRO_PROXY            the proxy's gRPC host:port; its certificate chains to ca.pem
//	MICRO_ACCOUNT_ID       the service account (type service, role service) ...
//	MICRO_ACCOUNT_SECRET   ... and its secret, fresh for every deployment
//
// plus the developer's own variables, whose names may not start with
// MICRO_. An instance is running once the registry lists, in its
// namespace's domain, a node of the service whose version is
// MICRO_SERVICE_VERSION and whose metadata "instance" is MICRO_INSTANCE.
// On SIGTERM it deregisters, drains and exits; the runtime sends SIGKILL
// after a grace period.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
)

// ReservedEnvPrefix starts every variable the platform sets; a developer's
// variables may not. The variables themselves, the files of MICRO_TLS_DIR
// and the instance's node metadata key are the SDK's (m3o.dev/pkg/service),
// the other side of the same contract.
const ReservedEnvPrefix = "MICRO_"

// Limits and defaults.
const (
	// Database is the store service's system database of the runtime.
	Database = "_runtime"
	// DefaultQuotaServices is how many services a namespace may have, and
	// DefaultQuotaCPUMillis and DefaultQuotaMemoryMiB what its instances
	// may take in all, unless an admin set a quota of its own.
	DefaultQuotaServices  = 10
	DefaultQuotaCPUMillis = 2000
	DefaultQuotaMemoryMiB = 2048
	// MaxQuotaServices, MaxQuotaCPUMillis and MaxQuotaMemoryMiB bound a
	// quota an admin sets.
	MaxQuotaServices  = 1000
	MaxQuotaCPUMillis = 1_000_000
	MaxQuotaMemoryMiB = 4 << 20
	// SourcesKept is how many sources of each service name are kept.
	SourcesKept = 3
	// MaxInstances is the most instances a service may ask for, and
	// MaxResizeInstances the most an admin may resize it to.
	MaxInstances       = 10
	MaxResizeInstances = 100
	// DefaultCPUMillis and DefaultMemoryMiB are an instance's resources
	// when none are asked for; MaxCPUMillis and MaxMemoryMiB bound them.
	DefaultCPUMillis = 100
	DefaultMemoryMiB = 128
	MaxCPUMillis     = 8000
	MaxMemoryMiB     = 16384
	// DefaultLogLines and MaxLogLines bound what Logs sends first.
	DefaultLogLines = 100
	MaxLogLines     = 10000
)

// Sentinel errors; status.go maps each to one gRPC code.
var (
	// ErrNotFound means the service or source does not exist in the
	// namespace.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a service of that name exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalid means the request is malformed; the error is an
	// *invalid.Error naming the fields.
	ErrInvalid = invalid.ErrInvalid
	// ErrUnauthenticated means the call carries no verified identity.
	ErrUnauthenticated = rpcerr.ErrUnauthenticated
	// ErrPermissionDenied means the caller may not act on the namespace it
	// named, or may not call the RPC at all.
	ErrPermissionDenied = rpcerr.ErrPermissionDenied
	// ErrQuota means the change would take the namespace past its quota;
	// the error is a *QuotaError naming what is over.
	ErrQuota = errors.New("quota exceeded")
	// ErrUnavailable means a service the runtime depends on (store, auth)
	// could not be reached; the caller may retry.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnimplemented means the RPC exists but is not available yet.
	ErrUnimplemented = errors.New("not implemented yet")
)

// NotRunning is the error a Backend returns for a service it does not run.
func NotRunning(ref Ref) error {
	return fmt.Errorf("%s: %w", platform.NotRunning(ref.Name, ref.Namespace), ErrNotFound)
}

// Ref names a service of a namespace.
type Ref struct {
	// Namespace is the tenant.
	Namespace string
	// Name is the service's name in it.
	Name string
}

// String returns "<namespace>/<name>".
func (r Ref) String() string { return r.Namespace + "/" + r.Name }

// State is where a service or an instance stands.
type State string

// The states; they match the proto's Status values.
const (
	StatePending  State = "pending"
	StateBuilding State = "building"
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateError    State = "error"
	StateStopped  State = "stopped"
)

// Resources bound one instance.
type Resources struct {
	// CPUMillis is CPU in thousandths of a core.
	CPUMillis uint32 `json:"cpu_millis,omitempty"`
	// MemoryMiB is memory in MiB.
	MemoryMiB uint32 `json:"memory_mib,omitempty"`
}

// Source is where a deployment's code comes from. A backend fetches it
// while building.
type Source interface {
	// ID names the source; two sources with one ID hold the same tree, so
	// a backend may reuse a tree it fetched before.
	ID() string
	// Fetch writes the source's tree into dst, which must not exist yet,
	// and leaves nothing there on failure. A refused source returns an
	// error the developer can act on, matching ErrInvalid.
	Fetch(ctx context.Context, dst string) error
}

// Deployment is one generation of a service as a backend runs it.
type Deployment struct {
	// Ref names the service.
	Ref Ref
	// Generation orders the deployments of a service: a backend ignores one
	// older than what it runs.
	Generation uint64
	// Version is the version label, MICRO_SERVICE_VERSION.
	Version string
	// Source is the code.
	Source Source
	// Env holds the instance's KEY=VALUE pairs: the developer's, then
	// MICRO_PROXY and the service account's. The backend adds the rest of
	// the contract: MICRO_NAMESPACE, MICRO_SERVICE_NAME and
	// MICRO_SERVICE_VERSION from Ref and Version, and its own
	// MICRO_ADDRESS, MICRO_TLS_DIR and MICRO_INSTANCE.
	Env []string
	// Instances is how many copies run, at least 1.
	Instances int
	// Resources bound each instance.
	Resources Resources
	// Quota is the namespace's quota, which a backend that enforces
	// quotas itself (Kubernetes) applies along with the deployment.
	Quota Quota
	// Surge says the quota has room for one instance of the service
	// beyond its count, which a rollout may start before it stops an old
	// one.
	Surge bool
}

// Quota bounds what a namespace may use in all, in steady state: each
// service's instances times its resources, and the number of services.
type Quota struct {
	// CPUMillis is total CPU in thousandths of a core.
	CPUMillis uint32 `json:"cpu_millis,omitempty"`
	// MemoryMiB is total memory in MiB.
	MemoryMiB uint32 `json:"memory_mib,omitempty"`
	// Services is the most services the namespace may have.
	Services uint32 `json:"services,omitempty"`
}

// Strategy is how a backend replaces running instances to take a
// deployment.
type Strategy string

// The strategies; they match the proto's Rollout values.
const (
	// StrategyNone replaces no running instance: nothing ran yet, or the
	// deployment differs from the running one only in what the backend
	// changes in place.
	StrategyNone Strategy = "none"
	// StrategySurge starts new instances before it stops old ones.
	StrategySurge Strategy = "surge"
	// StrategyOneAtATime stops one old instance before each new one
	// starts, when the quota has no room for more (Deployment.Surge false).
	StrategyOneAtATime Strategy = "one-at-a-time"
)

// Rollout is how a backend takes a deployment.
type Rollout struct {
	// Strategy is how running instances are replaced.
	Strategy Strategy
	// Notes say what of the deployment the backend does not enforce, one
	// sentence each.
	Notes []string
}

// InstanceStatus is one instance as a backend sees it.
type InstanceStatus struct {
	// Number is the instance's number, from 1.
	Number int
	// Generation is the deployment it runs.
	Generation uint64
	// State is starting, running (registered and healthy), error (crashed
	// too often in a row, still restarted) or stopped.
	State State
	// Restarts counts the starts after the first.
	Restarts int
	// LastExit says how the last run ended.
	LastExit string
	// Since is when State was entered.
	Since time.Time
}

// Status is a service as a backend sees it.
type Status struct {
	// State is the service's state: the latest deployment's while it
	// builds and starts, then that of the instances serving.
	State State
	// Reason explains an error state, or, with State running and
	// RunningGeneration below Generation, why the latest deployment did
	// not take.
	Reason string
	// Generation is the latest deployment the backend was given.
	Generation uint64
	// RunningGeneration is the deployment whose instances serve; 0 while
	// none does.
	RunningGeneration uint64
	// Instances are the live instances, sorted by number.
	Instances []InstanceStatus
}

// LogOptions select log lines.
type LogOptions struct {
	// Count is how many of the latest lines to send first.
	Count int
	// Since drops lines written before it; zero keeps all.
	Since time.Time
	// Follow keeps sending new lines until the context ends.
	Follow bool
	// Build sends the latest build's log instead of the instances'.
	Build bool
}

// Log streams of LogLine.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamBuild  = "build"
)

// LogLine is one line of a service's log.
type LogLine struct {
	// Time is when it was written; zero for build lines.
	Time time.Time
	// Instance wrote it, from 1; 0 for build lines.
	Instance int
	// Stream is StreamStdout, StreamStderr or StreamBuild.
	Stream string
	// Text is the line without its newline.
	Text string
}

// Backend builds and runs services: processes on this machine (local) or
// workloads on Kubernetes. Every method is safe for concurrent use.
type Backend interface {
	// Apply makes the backend run d, the service's desired state. It
	// returns once d is accepted, saying how running instances will be
	// replaced, and does the work in the background: fetching and building
	// the source, starting the instances, and, when an older generation
	// serves, stopping it only once the new one runs. A deployment that
	// differs from the serving one only in its instance count or
	// resources may be applied in place, without a build. A deployment no
	// newer than the one the backend has is ignored.
	Apply(ctx context.Context, d Deployment) (Rollout, error)
	// Delete stops every instance of the service (SIGTERM, a grace period,
	// then SIGKILL) and forgets it; it returns once nothing of it runs.
	// Deleting a service the backend does not run is not an error.
	Delete(ctx context.Context, ref Ref) error
	// Status returns where the service stands, or ErrNotFound when the
	// backend was never given it.
	Status(ctx context.Context, ref Ref) (Status, error)
	// Logs sends the service's log lines to send, oldest first, and with
	// Follow keeps sending until ctx ends or send fails. It returns
	// ErrNotFound when the backend does not run the service.
	Logs(ctx context.Context, ref Ref, opts LogOptions, send func(LogLine) error) error
	// List returns every service the backend runs, for reconciling it
	// with the records.
	List(ctx context.Context) ([]Ref, error)
	// SetQuota applies a namespace's new quota where the backend enforces
	// quotas itself; a backend that does not returns nil. The runtime
	// checks every change against the quota either way.
	SetQuota(ctx context.Context, namespace string, q Quota) error
}

// Certificate is a workload's TLS material, PEM encoded.
type Certificate struct {
	// CA is the platform CA the workload trusts.
	CA []byte
	// Chain is the workload's certificate followed by the workload CA's.
	Chain []byte
	// Key is the workload's private key.
	Key []byte
	// NotAfter is when the certificate expires.
	NotAfter time.Time
}
