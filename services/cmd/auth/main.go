// Command auth serves m3o.auth.v1 on its own, as it runs in production;
// `micro server` embeds the same service instead.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/logging"
	"m3o.dev/services/auth/authserver"
)

func main() {
	if err := newApp(run).Run(os.Args); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("auth stopped", "error", err)
		os.Exit(1)
	}
}

// newApp declares the flags, each also read from MICRO_AUTH_<FLAG>, and
// hands the parsed Config to serve. The admin password is read from the
// environment only, so that it never shows in a process listing.
func newApp(serve func(context.Context, authserver.Config) error) *cli.App {
	env := func(flag string) []string {
		return []string{"MICRO_AUTH_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	}
	return &cli.App{
		Name:  "auth",
		Usage: "serve the M3O auth service",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "address", Value: "127.0.0.1:8084", Usage: "gRPC listen address", EnvVars: env("address")},
			&cli.StringFlag{Name: "data-dir", Value: "/var/lib/m3o/auth", Usage: "where a generated admin password is kept", EnvVars: env("data-dir")},
			&cli.StringFlag{Name: "ca-file", Usage: "platform CA certificate, PEM", EnvVars: env("ca-file")},
			&cli.StringFlag{Name: "cert-file", Usage: "this service's certificate (micro/auth), PEM", EnvVars: env("cert-file")},
			&cli.StringFlag{Name: "key-file", Usage: "this service's private key, PEM", EnvVars: env("key-file")},
			&cli.StringFlag{Name: "store-address", Usage: "store service address, host:port", EnvVars: env("store-address")},
			&cli.StringFlag{Name: "log-format", Value: "json", Usage: "json or text", EnvVars: env("log-format")},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: env("log-level")},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, authserver.Config{
				Address: c.String("address"), DataDir: c.String("data-dir"),
				CAFile: c.String("ca-file"), CertFile: c.String("cert-file"), KeyFile: c.String("key-file"),
				StoreAddress: c.String("store-address"), LogFormat: c.String("log-format"), LogLevel: c.String("log-level"),
				AdminPassword: os.Getenv("MICRO_ADMIN_PASSWORD"),
			})
		},
	}
}

// run validates cfg and serves until ctx ends.
func run(ctx context.Context, cfg authserver.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	return authserver.Serve(ctx, cfg, logger, os.Stdout)
}
