package corekit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/logging"
)

// RunFunc runs one service in p until ctx ends; c holds the service's own
// flags.
type RunFunc func(ctx context.Context, c *cli.Context, p *Process) error

// App is the command of a standalone core service binary: the common flags
// and the service's own, each also read from MICRO_<SERVICE>_<FLAG>. Its
// action opens the Process, runs the service until SIGINT or SIGTERM, then
// closes the Process.
func App(spec Spec, own []cli.Flag, run RunFunc) *cli.App {
	return &cli.App{
		Name:  spec.Name,
		Usage: "serve the M3O " + spec.Name + " service",
		Flags: append(Flags(spec), own...),
		Action: func(c *cli.Context) error {
			return action(c, spec, run, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// Main runs App with the process's arguments and exits once: 0 after a
// clean stop, 1 after an error, which is logged. Logs go to stderr; what
// the operator must see once, to stdout.
func Main(app *cli.App) {
	if err := app.Run(os.Args); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error(app.Name+" stopped", "error", err)
		os.Exit(1)
	}
}

func action(c *cli.Context, spec Spec, run RunFunc, out, errOut io.Writer) error {
	cfg := ConfigFrom(c, spec)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if spec.Preflight != nil {
		if err := spec.Preflight(c); err != nil {
			return err
		}
	}
	logger, err := logging.New(errOut, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for _, hint := range renamedInUse(c, spec) {
		logger.Warn("deprecated flag: " + hint + "; the old name goes in the next release")
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := Open(ctx, spec, cfg, logger.With("service", spec.Name), out)
	if err != nil {
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}
	defer p.Close()
	return run(ctx, c, p)
}
