// Command proxy serves the platform's public entry point on its own, as it
// runs in production: gRPC with TLS, the JSON gateway, /healthz and
// /metrics. `micro server` embeds the same proxy instead.
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
	"m3o.dev/services/proxy"
	"m3o.dev/services/proxy/proxyserver"
)

func main() {
	if err := newApp(run).Run(os.Args); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("proxy stopped", "error", err)
		os.Exit(1)
	}
}

// newApp declares the flags, each also read from MICRO_PROXY_<FLAG> (an
// explicit flag wins), and hands the parsed Config to serve.
func newApp(serve func(context.Context, proxyserver.Config) error) *cli.App {
	env := func(flag string) []string {
		return []string{"MICRO_PROXY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	}
	str := func(name, value, usage string) cli.Flag {
		return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name)}
	}
	return &cli.App{
		Name:  "proxy",
		Usage: "serve the M3O public proxy",
		Flags: []cli.Flag{
			str("address", ":8081", "public gRPC listen address"),
			str("http-address", ":8080", "public HTTP listen address: JSON gateway, /healthz, /metrics"),
			str("ca-file", "", "platform CA certificate, PEM"),
			str("cert-file", "", "the proxy's certificate (micro/proxy), PEM: served publicly and used to relay"),
			str("key-file", "", "the proxy's private key, PEM"),
			str("router-cert-file", "", "certificate (micro/router) for rules and key lookups, PEM"),
			str("router-key-file", "", "private key of the router certificate, PEM"),
			str("store-address", "", "store service address, host:port"),
			str("registry-address", "", "registry service address, host:port"),
			str("auth-address", "", "auth service address, host:port"),
			str("config-address", "", "config service address, host:port"),
			&cli.Float64Flag{Name: "rate-limit", Value: 100, Usage: "calls a second per account; 0 is no limit", EnvVars: env("rate-limit")},
			&cli.IntFlag{Name: "rate-burst", Value: 200, Usage: "calls an account may make at once", EnvVars: env("rate-burst")},
			str("log-format", "json", "json or text"),
			str("log-level", "info", "debug, info, warn or error"),
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, proxyserver.Config{
				Address: c.String("address"), HTTPAddress: c.String("http-address"),
				CAFile: c.String("ca-file"), CertFile: c.String("cert-file"), KeyFile: c.String("key-file"),
				RouterCertFile: c.String("router-cert-file"), RouterKeyFile: c.String("router-key-file"),
				StoreAddress: c.String("store-address"), RegistryAddress: c.String("registry-address"),
				AuthAddress: c.String("auth-address"), ConfigAddress: c.String("config-address"),
				RateLimit: proxy.RateLimit{PerSecond: c.Float64("rate-limit"), Burst: c.Int("rate-burst")},
				LogFormat: c.String("log-format"), LogLevel: c.String("log-level"),
			})
		},
	}
}

// run validates cfg and serves until ctx ends.
func run(ctx context.Context, cfg proxyserver.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	return proxyserver.Run(ctx, cfg, logger)
}
