// Command config runs the platform's config service on its own, as in
// production; `micro server` embeds the same service in one process.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/logging"
	"m3o.dev/services/config/configserver"
)

func main() {
	if err := app().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(1)
	}
}

// env names the environment variable of a flag, MICRO_CONFIG_<FLAG>.
func env(name string) []string { return []string{"MICRO_CONFIG_" + name} }

// app declares the flags; urfave/cli gives an explicit flag precedence over
// its environment variable.
func app() *cli.App {
	return &cli.App{
		Name:  "config",
		Usage: "serve m3o.config.v1.ConfigService",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "address", Value: ":8083", Usage: "listen address", EnvVars: env("ADDRESS")},
			&cli.StringFlag{Name: "tls-ca-file", Usage: "platform CA certificate, PEM", EnvVars: env("TLS_CA_FILE")},
			&cli.StringFlag{Name: "tls-cert-file", Usage: "this service's certificate (micro/config), PEM", EnvVars: env("TLS_CERT_FILE")},
			&cli.StringFlag{Name: "tls-key-file", Usage: "this service's private key, PEM", EnvVars: env("TLS_KEY_FILE")},
			&cli.StringFlag{Name: "store-address", Usage: "store service address", EnvVars: env("STORE_ADDRESS")},
			&cli.StringFlag{Name: "auth-address", Usage: "auth service address, for token keys", EnvVars: env("AUTH_ADDRESS")},
			&cli.StringFlag{Name: "key-file", Usage: "config encryption keyring file (or the keyring itself in MICRO_CONFIG_KEY)", EnvVars: env("KEY_FILE")},
			&cli.DurationFlag{Name: "poll-interval", Usage: "how often watchers look for changes from other replicas", EnvVars: env("POLL_INTERVAL")},
			&cli.StringFlag{Name: "log-format", Value: "json", Usage: "json or text", EnvVars: env("LOG_FORMAT")},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: env("LOG_LEVEL")},
		},
		Action: run,
	}
}

// run serves until SIGINT or SIGTERM.
func run(c *cli.Context) error {
	logger, err := logging.New(os.Stderr, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return err
	}
	cfg := configFrom(c)
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return configserver.Run(ctx, cfg, logger)
}

// configFrom reads the typed Config out of the parsed flags.
func configFrom(c *cli.Context) configserver.Config {
	return configserver.Config{
		Address: c.String("address"), StoreAddress: c.String("store-address"), AuthAddress: c.String("auth-address"),
		CAFile: c.String("tls-ca-file"), CertFile: c.String("tls-cert-file"), KeyFile: c.String("tls-key-file"),
		// The key itself is never a flag: a flag's value shows in ps.
		KeyringFile: c.String("key-file"), Keyring: os.Getenv("MICRO_CONFIG_KEY"),
		PollInterval: c.Duration("poll-interval"),
	}
}
