// Package command builds the micro command line: every subcommand, its
// flags, and how results and errors are printed.
package command

import (
	"fmt"
	"io"
	"runtime"

	"github.com/urfave/cli/v2"
)

// Version is the release of this binary, set at build time with
// -ldflags "-X m3o.dev/cli/command.Version=v1.2.3".
var Version = "dev"

// App returns the micro application writing to the given streams.
func App(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                 "micro",
		Usage:                "build, run and manage Go microservices on M3O",
		Version:              Version,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideVersion:          true,
		Commands: []*cli.Command{
			serverCommand(),
			versionCommand(),
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of micro",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "micro %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
