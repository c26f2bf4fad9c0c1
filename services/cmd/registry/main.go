// Command registry serves m3o.registry.v1.RegistryService on its own, as it
// runs in production; `micro server` runs the same service in one process
// with the others.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/registry"
	"m3o.dev/services/registry/memory"
	"m3o.dev/services/registry/registryserver"
)

// The backends --backend may name.
const (
	backendEtcd   = "etcd"
	backendMemory = "memory"
)

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the registry's own.
func newApp() *cli.App {
	return corekit.App(registryserver.Spec, flags(), run)
}

// flags are the registry's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Registry)
	return []cli.Flag{
		f.String("backend", backendEtcd, "where registrations are kept: etcd or memory"),
		f.Strings("etcd-endpoints", "etcd client `HOST:PORT`s"),
		f.String("embedded-etcd-dir", "", "start an embedded etcd with its data in `DIR`"),
	}
}

// run opens the chosen backend, serves it until ctx ends and closes it.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	backend, closeBackend, err := openBackend(c, p.Logger)
	if err != nil {
		return err
	}
	defer closeBackend()
	return registryserver.Run(ctx, registryserver.Config{Backend: backend}, p)
}

// openBackend opens the backend --backend names.
func openBackend(c *cli.Context, logger *slog.Logger) (registry.Backend, func(), error) {
	endpoints, embedded := c.StringSlice("etcd-endpoints"), c.String("embedded-etcd-dir")
	switch c.String("backend") {
	case backendEtcd:
		return registryserver.OpenEtcd(endpoints, embedded, logger)
	case backendMemory:
		if len(endpoints) > 0 || embedded != "" {
			return nil, nil, fmt.Errorf("%w: the memory backend takes no etcd options", corekit.ErrConfig)
		}
		b := memory.New(memory.Options{})
		return b, func() { b.Close() }, nil
	}
	return nil, nil, fmt.Errorf("%w: backend %q is not %s or %s", corekit.ErrConfig, c.String("backend"), backendEtcd, backendMemory)
}
