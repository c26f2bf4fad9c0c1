// Command runtime serves m3o.runtime.v1.RuntimeService on its own, as it
// runs in production; `micro server` runs the same service in one process
// with the others.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/billing"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/runtimeserver"
	"m3o.dev/services/runtime/source"
)

// backendLocal runs services as processes on this machine.
const backendLocal = "local"

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the runtime's own.
func newApp() *cli.App {
	spec := runtimeserver.Spec
	spec.Preflight = preflight
	return corekit.App(spec, flags(), run)
}

// preflight checks the runtime's own flags before anything opens, so that
// a mistake in them is named before the backend kills, installs or seeds
// anything.
func preflight(c *cli.Context) error {
	var errs []error
	switch c.String("backend") {
	case backendLocal:
	case backendKubernetes:
		errs = append(errs, kubePreflight(c)...)
	default:
		errs = append(errs, fmt.Errorf("--backend %q: the backends are %s and %s", c.String("backend"), backendLocal, backendKubernetes))
	}
	if _, _, err := net.SplitHostPort(c.String("proxy-address")); err != nil {
		errs = append(errs, fmt.Errorf("--proxy-address %q is not host:port: instances reach the platform through it", c.String("proxy-address")))
	}
	if !filepath.IsAbs(c.String("work-dir")) {
		errs = append(errs, fmt.Errorf("--work-dir %q must be an absolute path", c.String("work-dir")))
	}
	if c.String("workload-ca-cert-file") == "" || c.String("workload-ca-key-file") == "" {
		errs = append(errs, errors.New("--workload-ca-cert-file and --workload-ca-key-file are required: they sign instances' certificates"))
	}
	if n := c.Int64("max-upload-bytes"); n <= 0 || n > source.MaxCompressedBytes {
		errs = append(errs, fmt.Errorf("--max-upload-bytes %d must be between 1 and %d", n, source.MaxCompressedBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", corekit.ErrConfig, errors.Join(errs...))
	}
	return nil
}

// flags are the runtime's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Runtime)
	return append([]cli.Flag{
		f.String("backend", backendLocal, "where services run: local (processes on this machine) or kubernetes (Deployments on a cluster)"),
		f.String("work-dir", "/var/lib/m3o/runtime", "`DIR` of the local backend; every parent must be searchable by others (o+x) when running as root"),
		f.String("workload-ca-cert-file", "", "the workload CA's certificate, PEM `FILE`: an intermediate below --ca-file that signs instances"),
		f.String("workload-ca-key-file", "", "the workload CA's private key, PEM `FILE`"),
		f.String("proxy-address", "", "the proxy's gRPC `HOST:PORT` that instances reach the platform through"),
		f.Bool("allow-local-git", "accept git sources on file:// URLs and on loopback, private or link-local addresses"),
		f.Int64("default-quota-services", runtime.DefaultQuotaServices, "how many services a namespace may have"),
		f.Int64("max-upload-bytes", source.DefaultCompressedBytes, fmt.Sprintf("largest gzipped source upload in `BYTES`, at most %d", source.MaxCompressedBytes)),
		f.Int64("max-unpacked-bytes", source.DefaultUnpackedBytes, "largest unpacked source in `BYTES`"),
		f.Int64("max-files", source.DefaultFiles, "most files in one source"),
		f.String("module-cache", "", "Go module download cache `DIR` ($(go env GOMODCACHE)/cache/download) to copy the SDK's dependencies from for builds"),
		f.String("go-proxy", build.DefaultProxy, "upstream GOPROXY for builds' third-party modules; off is none"),
		f.String("go-sumdb", build.DefaultSumDB, "GOSUMDB for builds; off is none"),
		f.String("go", "go", "the go `COMMAND` builds run; its GOROOT must be readable by every user"),
		f.Duration("payment-grace", billing.DefaultGrace, "how long a past-due namespace's services keep running before they stop until payment resumes (with --billing-address)"),
	}, kubeFlags()...)
}

// run opens the chosen backend, serves until ctx ends and closes it.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	ca, err := mtls.LoadIntermediate(c.String("workload-ca-cert-file"), c.String("workload-ca-key-file"), c.String("ca-file"))
	if err != nil {
		return fmt.Errorf("%w: --workload-ca-cert-file and --workload-ca-key-file: %w", corekit.ErrConfig, err)
	}
	backend, background, err := openBackend(c, p, ca)
	if err != nil {
		return err
	}
	defer backend.Close()
	uploads, err := runtimeserver.UploadDir(c.String("work-dir"))
	if err != nil {
		return err
	}
	return runtimeserver.Run(ctx, runtimeserver.Config{
		Backend: backend, ProxyAddress: c.String("proxy-address"), TempDir: uploads,
		Limits: source.Limits{
			CompressedBytes: c.Int64("max-upload-bytes"), UnpackedBytes: c.Int64("max-unpacked-bytes"), Files: int(c.Int64("max-files")),
		},
		AllowLocalGit: c.Bool("allow-local-git"), QuotaServices: int(c.Int64("default-quota-services")),
		PaymentGrace: c.Duration("payment-grace"), Background: background,
	}, p)
}

// closingBackend is a backend the command closes when it stops.
type closingBackend interface {
	runtime.Backend
	Close()
}

// openBackend opens the backend --backend names, with the loops it needs
// beside the service.
func openBackend(c *cli.Context, p *corekit.Process, ca *mtls.CA) (closingBackend, []func(context.Context), error) {
	if c.String("backend") == backendKubernetes {
		b, serve, err := openKubernetes(c, p, ca)
		if err != nil {
			return nil, nil, err
		}
		return b, []func(context.Context){serve}, nil
	}
	b, err := runtimeserver.OpenLocal(p, localConfig(c, ca))
	if err != nil {
		return nil, nil, err
	}
	return b, nil, nil
}

// localConfig reads the local backend's flags.
func localConfig(c *cli.Context, ca *mtls.CA) runtimeserver.LocalConfig {
	return runtimeserver.LocalConfig{
		Dir: c.String("work-dir"), WorkloadCA: ca, ModuleCache: c.String("module-cache"),
		GoProxy: c.String("go-proxy"), GoSumDB: c.String("go-sumdb"), Go: c.String("go"),
	}
}
