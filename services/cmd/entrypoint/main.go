// Command entrypoint is the entrypoint of the base image a service's pods
// run on Kubernetes: it fetches the service's binary from the runtime over
// mTLS with the instance certificate (package artifact), then becomes it.
// The runtime's Kubernetes backend sets its flags' variables in the pod;
// the service gets the environment unchanged.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"m3o.dev/services/runtime/kubernetes/artifact"
)

// fetchTimeout bounds the download; the pod restarts and tries again.
const fetchTimeout = 2 * time.Minute

// Config is what the entrypoint needs.
type Config struct {
	// ArtifactURL is where the binary is.
	ArtifactURL string
	// TLSDir holds the instance's certificate and the platform CA.
	TLSDir string
	// Binary is where the binary is written and run from.
	Binary string
}

// Validate checks that nothing is missing.
func (c Config) Validate() error {
	if c.ArtifactURL == "" || c.TLSDir == "" || c.Binary == "" {
		return errors.New("--artifact-url, --tls-dir and --binary must be set")
	}
	return nil
}

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "entrypoint:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "entrypoint",
		Usage: "fetch a service's binary from the runtime over mTLS and run it",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "artifact-url", EnvVars: []string{"M3O_ARTIFACT_URL"}, Usage: "the runtime's URL of the binary"},
			&cli.StringFlag{Name: "tls-dir", EnvVars: []string{"MICRO_TLS_DIR"}, Usage: "the instance's ca.pem, cert.pem and key.pem"},
			&cli.StringFlag{Name: "binary", EnvVars: []string{"M3O_BINARY"}, Value: "/var/run/m3o/app/service", Usage: "where to write the binary"},
		},
		Action: func(c *cli.Context) error {
			return run(Config{ArtifactURL: c.String("artifact-url"), TLSDir: c.String("tls-dir"), Binary: c.String("binary")})
		},
	}
}

// run fetches the binary and replaces this process with it.
func run(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	if err := artifact.Fetch(ctx, cfg.ArtifactURL, cfg.TLSDir, cfg.Binary); err != nil {
		return err
	}
	return syscall.Exec(cfg.Binary, []string{cfg.Binary}, os.Environ())
}
