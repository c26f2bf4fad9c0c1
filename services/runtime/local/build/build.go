// Package build compiles a developer's Go service for the local backend.
//
// A build is `go build` run through the sandbox as the namespace's own
// uid, with CGO_ENABLED=0, GOTOOLCHAIN=local and an environment built from
// nothing. The SDK modules m3o.dev/pkg and m3o.dev/proto exist on no
// proxy, so the build points them at the copies the platform ships: it
// copies the developer's go.mod and go.sum into a build-private modfile,
// replaces both modules there with the shipped directories (dropping any
// replace of its own the developer had for them), and builds with
// -modfile and -mod=mod. The developer's files are never changed.
//
// Each namespace has its own GOCACHE and GOMODCACHE under its private
// directory, so a rebuild of an unchanged service takes seconds and no
// tenant can read or poison another's caches. Third-party modules come
// first from the platform's module download directory (a file:// GOPROXY,
// read-only to builds), then from the upstream proxy the operator chose.
// GOPRIVATE and GONOSUMDB name m3o.dev, so the SDK is never looked up
// anywhere.
package build

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"m3o.dev/services/runtime/local/sandbox"
)

// Errors a build returns for the developer's mistakes.
var (
	// ErrInvalidModule marks a source that is not a Go module the runtime
	// can build: no go.mod at its root, a go.mod that is a link out of the
	// tree or does not parse, or a package path outside the module.
	ErrInvalidModule = errors.New("the source must be a Go module with its go.mod at the root")
	// ErrBuildFailed marks a build the compiler refused; the *Error that
	// carries it holds the compiler's first lines.
	ErrBuildFailed = errors.New("the build failed")
)

// Error is a failed build: Output holds the first lines the go command
// printed (at most OutputLines), for the service's error reason; the full
// output is in the build log.
type Error struct {
	// Output is the start of the go command's output.
	Output string
}

// OutputLines is how many lines of compiler output an Error keeps.
const OutputLines = 10

// Error implements error.
func (e *Error) Error() string { return "build failed:\n" + e.Output }

// Is makes an *Error match ErrBuildFailed.
func (e *Error) Is(target error) bool { return target == ErrBuildFailed }

// Defaults for Options.
const (
	// DefaultProxy is the upstream module proxy.
	DefaultProxy = "https://proxy.golang.org"
	// DefaultSumDB is the checksum database.
	DefaultSumDB = "sum.golang.org"
	// DefaultTimeout bounds one build.
	DefaultTimeout = 10 * time.Minute
)

// Options configure a Builder.
type Options struct {
	// Sandbox runs the go command.
	Sandbox *sandbox.Sandbox
	// SDKDir holds the SDK modules' sources, SDKDir/pkg and SDKDir/proto,
	// each with its go.mod. Namespace uids must be able to read it: every
	// directory on its path needs o+x, and it must not be inside the
	// server's data directory.
	SDKDir string
	// SDKVersion is the version the shipped SDK is released as. A go.mod
	// requiring another version builds all the same, with one line in the
	// build log saying so.
	SDKVersion string
	// ModuleDownloadDir, when set, is tried first for third-party modules
	// as a file:// GOPROXY, for example the server's own
	// $(go env GOMODCACHE)/cache/download. Builds only read it, and like
	// SDKDir it must be readable by namespace uids.
	ModuleDownloadDir string
	// Proxy is the upstream GOPROXY after ModuleDownloadDir; empty means
	// DefaultProxy, "off" means none.
	Proxy string
	// SumDB is GOSUMDB; empty means DefaultSumDB.
	SumDB string
	// Go is the go command; empty means "go" on the server's PATH. Its
	// GOROOT must be readable by namespace uids.
	Go string
	// Timeout bounds one build; zero means DefaultTimeout.
	Timeout time.Duration
}

// Builder builds services. It is safe for concurrent use, but two builds of
// the same service of the same namespace must not run at once: they share
// a build directory and an output path.
type Builder struct {
	opts Options
}

// New checks the options and returns a Builder.
func New(opts Options) (*Builder, error) {
	if opts.Sandbox == nil {
		return nil, errors.New("build: no sandbox")
	}
	for _, m := range []string{"pkg", "proto"} {
		if _, err := os.Stat(filepath.Join(opts.SDKDir, m, "go.mod")); err != nil {
			return nil, fmt.Errorf("build: SDK directory %q: %w", opts.SDKDir, err)
		}
	}
	var err error
	if opts.SDKDir, err = filepath.Abs(opts.SDKDir); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	if opts.Go, err = exec.LookPath(opts.Go); err != nil {
		return nil, fmt.Errorf("build: find the go command: %w", err)
	}
	if opts.Go, err = filepath.Abs(opts.Go); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if opts.Proxy == "" {
		opts.Proxy = DefaultProxy
	}
	if opts.SumDB == "" {
		opts.SumDB = DefaultSumDB
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Builder{opts: opts}, nil
}
