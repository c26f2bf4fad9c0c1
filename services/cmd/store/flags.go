package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"m3o.dev/services/store/storeserver"
)

// newApp declares the flags, each also read from MICRO_STORE_<FLAG> (an
// explicit flag wins), and hands the parsed Config to serve.
func newApp(logger *slog.Logger, serve func(context.Context, storeserver.Config, *slog.Logger) error) *cli.App {
	env := func(flag string) []string {
		return []string{"MICRO_STORE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	}
	return &cli.App{
		Name:  "store",
		Usage: "serve the M3O key-value store",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "backend", Value: storeserver.BackendPebble, Usage: "pebble, cockroach or memory", EnvVars: env("backend")},
			&cli.StringFlag{Name: "dsn", Usage: "CockroachDB or PostgreSQL URL of the cockroach backend", EnvVars: env("dsn")},
			&cli.StringFlag{Name: "data-dir", Usage: "directory of the pebble backend", EnvVars: env("data-dir")},
			&cli.StringFlag{Name: "address", Value: "127.0.0.1:8083", Usage: "gRPC listen address", EnvVars: env("address")},
			&cli.Int64Flag{Name: "quota-bytes", Usage: "bytes each tenant database may hold; 0 is no limit", EnvVars: env("quota-bytes")},
			&cli.DurationFlag{Name: "sweep-interval", Value: storeserver.DefaultSweepInterval, Usage: "how often expired records are deleted", EnvVars: env("sweep-interval")},
			&cli.StringFlag{Name: "ca-file", Usage: "platform CA certificate, PEM", EnvVars: env("ca-file")},
			&cli.StringFlag{Name: "cert-file", Usage: "this service's certificate, PEM", EnvVars: env("cert-file")},
			&cli.StringFlag{Name: "key-file", Usage: "this service's private key, PEM", EnvVars: env("key-file")},
			&cli.StringFlag{Name: "auth-address", Usage: "auth service address, host:port, whose keys verify access tokens; empty accepts only mTLS callers", EnvVars: env("auth-address")},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, storeserver.Config{
				Backend:       c.String("backend"),
				DSN:           c.String("dsn"),
				DataDir:       c.String("data-dir"),
				Address:       c.String("address"),
				QuotaBytes:    c.Int64("quota-bytes"),
				SweepInterval: c.Duration("sweep-interval"),
				CAFile:        c.String("ca-file"),
				CertFile:      c.String("cert-file"),
				KeyFile:       c.String("key-file"),
				AuthAddress:   c.String("auth-address"),
			}, logger)
		},
	}
}
