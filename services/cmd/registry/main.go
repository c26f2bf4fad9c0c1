// Command registry serves m3o.registry.v1.RegistryService on its own, as it
// runs in production; `micro server` runs the same service in one process
// with the others.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/registry"
	"m3o.dev/services/registry/etcdembed"
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
		f.String("etcd-ca-file", "", "the etcd CA, PEM `FILE`: etcd's own trust, not the platform CA"),
		f.String("etcd-cert-file", "", "the registry's etcd client certificate, PEM `FILE`"),
		f.String("etcd-key-file", "", "the key of the etcd client certificate, PEM `FILE`"),
		f.String("embedded-etcd-dir", "", "start an embedded etcd with its data, and its own CA, in `DIR`"),
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
		opts, err := etcdOptions(c, logger)
		if err != nil {
			return nil, nil, err
		}
		return registryserver.OpenEtcd(opts)
	case backendMemory:
		if len(endpoints) > 0 || embedded != "" {
			return nil, nil, fmt.Errorf("%w: the memory backend takes no etcd options", corekit.ErrConfig)
		}
		b := memory.New(memory.Options{})
		return b, func() { b.Close() }, nil
	}
	return nil, nil, fmt.Errorf("%w: backend %q is not %s or %s", corekit.ErrConfig, c.String("backend"), backendEtcd, backendMemory)
}

// etcdOptions reads which etcd to use and the registry's credential for it.
// An embedded etcd gets a CA of its own beside its data; a cluster's CA and
// the registry's client certificate come from the flags, all three or none
// (plain text, for a cluster on a trusted network only).
func etcdOptions(c *cli.Context, logger *slog.Logger) (registryserver.EtcdOptions, error) {
	o := registryserver.EtcdOptions{Endpoints: c.StringSlice("etcd-endpoints"), Logger: logger}
	if dir := c.String("embedded-etcd-dir"); dir != "" {
		pki, err := etcdembed.LoadOrCreatePKI(filepath.Join(dir, "pki"))
		if err != nil {
			return o, err
		}
		o.Embedded = &etcdembed.Options{Dir: dir, TLS: &pki.Member, Logger: logger}
		o.TLS = &pki.Client
		return o, nil
	}
	files := etcdembed.TLSFiles{CAFile: c.String("etcd-ca-file"), CertFile: c.String("etcd-cert-file"), KeyFile: c.String("etcd-key-file")}
	switch {
	case files.CAFile != "" && files.CertFile != "" && files.KeyFile != "":
		o.TLS = &files
	case files.CAFile != "" || files.CertFile != "" || files.KeyFile != "":
		return o, fmt.Errorf("%w: --etcd-ca-file, --etcd-cert-file and --etcd-key-file go together", corekit.ErrConfig)
	}
	return o, nil
}
