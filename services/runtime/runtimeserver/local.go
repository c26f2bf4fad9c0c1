package runtimeserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local"
	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/local/sdk"
)

// LocalConfig configures the local backend.
type LocalConfig struct {
	// Dir holds the backend's files: the sandbox, logs, the shipped SDK,
	// the module download directory and uploads being checked. It must be
	// outside the server's data directory, which stays 0700, and when the
	// server runs as root every parent must be searchable by others (o+x):
	// the namespaces' uids read the SDK and their own trees there.
	Dir string
	// WorkloadCA is the intermediate that signs instances' certificates.
	WorkloadCA *mtls.CA
	// ModuleCache, when set, is a Go module download cache
	// ($(go env GOMODCACHE)/cache/download) whose copies of the SDK's
	// dependencies are copied where builds can read them, so that they
	// need no network for those.
	ModuleCache string
	// GoProxy is the upstream GOPROXY builds try after those copies: empty
	// means build.DefaultProxy, "off" none.
	GoProxy string
	// GoSumDB is the checksum database builds use: empty means
	// build.DefaultSumDB, "off" none.
	GoSumDB string
	// Go is the go command; empty means "go" on the server's PATH.
	Go string
}

// Validate checks the configuration.
func (c LocalConfig) Validate() error {
	var errs []error
	if c.Dir == "" || !filepath.IsAbs(c.Dir) {
		errs = append(errs, fmt.Errorf("the runtime's directory %q must be an absolute path", c.Dir))
	}
	if c.WorkloadCA == nil || !c.WorkloadCA.IsIntermediate() {
		errs = append(errs, errors.New("the workload CA must be an intermediate below the platform CA"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", corekit.ErrConfig, errors.Join(errs...))
	}
	return nil
}

// OpenLocal opens the local backend in cfg.Dir for the runtime's process
// p: it kills what a previous server left running, installs the shipped
// SDK where builds can read it, seeds the module download directory, and
// says in the log whether user code is isolated by uid. Close the backend
// once Run returns.
func OpenLocal(p *corekit.Process, cfg LocalConfig) (*local.Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	buildOpts, err := prepareBuilds(p, cfg)
	if err != nil {
		return nil, err
	}
	regConn, err := p.Dial(platform.Registry)
	if err != nil {
		return nil, err
	}
	signer, err := runtime.NewSigner(cfg.WorkloadCA, runtime.CertValidity)
	if err != nil {
		return nil, err
	}
	b, err := local.New(local.Options{
		Dir: cfg.Dir, Build: buildOpts, Registry: local.NewRegistry(registryv1.NewRegistryServiceClient(regConn)),
		Certs: signer, Logger: p.Logger.With("component", "local"),
	})
	if err != nil {
		return nil, err
	}
	sayIsolation(p, b)
	return b, nil
}

// prepareBuilds installs the SDK and seeds the module download directory.
func prepareBuilds(p *corekit.Process, cfg LocalConfig) (build.Options, error) {
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "sdk")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return build.Options{}, err
		}
	}
	sdkDir, err := sdk.Install(filepath.Join(cfg.Dir, "sdk"))
	if err != nil {
		return build.Options{}, err
	}
	modules := filepath.Join(cfg.Dir, "modules")
	if cfg.ModuleCache != "" {
		found, err := sdk.SeedModules(cfg.ModuleCache, modules)
		if err != nil {
			return build.Options{}, fmt.Errorf("seed the builds' modules from %s: %w", cfg.ModuleCache, err)
		}
		p.Logger.Info("builds' module download directory seeded", "from", cfg.ModuleCache, "modules", found)
	}
	if err := os.MkdirAll(modules, 0o755); err != nil {
		return build.Options{}, err
	}
	return build.Options{SDKDir: sdkDir, SDKVersion: sdk.Version, ModuleDownloadDir: modules,
		Proxy: cfg.GoProxy, SumDB: cfg.GoSumDB, Go: cfg.Go}, nil
}

// sayIsolation says at start what isolates developers' code.
func sayIsolation(p *corekit.Process, b *local.Backend) {
	if b.Isolated() {
		p.Logger.Info("user code runs under a uid of its own per namespace, which can read neither the data directory nor another namespace's files")
		return
	}
	p.Logger.Warn("the server is not root, so it cannot switch uids: user code runs as the server's own user, can read everything the server can, and must be trusted; see docs/security.md")
}

// UploadDir returns the directory under a local backend's directory where
// uploads are checked, creating it for the server alone.
func UploadDir(dir string) (string, error) {
	up := filepath.Join(dir, "uploads")
	if err := os.MkdirAll(up, 0o700); err != nil {
		return "", err
	}
	return up, os.Chmod(up, 0o700)
}
