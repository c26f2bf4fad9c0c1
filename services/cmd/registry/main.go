// Command registry serves m3o.registry.v1.RegistryService on its own, as it
// runs in production; `micro server` embeds the same service instead.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"m3o.dev/services/registry"
	"m3o.dev/services/registry/memory"
	"m3o.dev/services/registry/registryserver"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := newApp(logger, run).Run(os.Args); err != nil {
		logger.Error("registry stopped", "error", err)
		os.Exit(1)
	}
}

// newApp declares the flags, each also read from MICRO_REGISTRY_<FLAG>, and
// hands the parsed Config to serve.
func newApp(logger *slog.Logger, serve func(context.Context, registryserver.Config, *slog.Logger) error) *cli.App {
	env := func(flag string) []string {
		return []string{"MICRO_REGISTRY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	}
	return &cli.App{
		Name:  "registry",
		Usage: "serve the M3O service registry",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "backend", Value: registryserver.BackendEtcd, Usage: "etcd or memory", EnvVars: env("backend")},
			&cli.StringSliceFlag{Name: "etcd-endpoints", Usage: "etcd client endpoints, host:port", EnvVars: env("etcd-endpoints")},
			&cli.StringFlag{Name: "embedded-etcd-dir", Usage: "start an embedded etcd with its data here", EnvVars: env("embedded-etcd-dir")},
			&cli.StringFlag{Name: "address", Value: "127.0.0.1:8082", Usage: "gRPC listen address", EnvVars: env("address")},
			&cli.StringFlag{Name: "ca-file", Usage: "platform CA certificate, PEM", EnvVars: env("ca-file")},
			&cli.StringFlag{Name: "cert-file", Usage: "this service's certificate, PEM", EnvVars: env("cert-file")},
			&cli.StringFlag{Name: "key-file", Usage: "this service's private key, PEM", EnvVars: env("key-file")},
			&cli.StringFlag{Name: "auth-address", Usage: "auth service address, host:port, whose keys verify access tokens; empty accepts only mTLS callers", EnvVars: env("auth-address")},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, registryserver.Config{
				Backend:         c.String("backend"),
				EtcdEndpoints:   c.StringSlice("etcd-endpoints"),
				EmbeddedEtcdDir: c.String("embedded-etcd-dir"),
				Address:         c.String("address"),
				CAFile:          c.String("ca-file"),
				CertFile:        c.String("cert-file"),
				KeyFile:         c.String("key-file"),
				AuthAddress:     c.String("auth-address"),
			}, logger)
		},
	}
}

// run opens the chosen backend and serves it until ctx ends.
func run(ctx context.Context, cfg registryserver.Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var backend registry.Backend
	switch cfg.Backend {
	case registryserver.BackendEtcd:
		b, closeBackend, err := registryserver.OpenEtcd(cfg.EtcdEndpoints, cfg.EmbeddedEtcdDir, logger)
		if err != nil {
			return err
		}
		defer closeBackend()
		backend = b
	case registryserver.BackendMemory:
		b := memory.New(memory.Options{})
		defer b.Close()
		backend = b
	default:
		return fmt.Errorf("backend %q: %w", cfg.Backend, registryserver.ErrConfig)
	}
	return registryserver.Serve(ctx, cfg, backend, logger)
}
