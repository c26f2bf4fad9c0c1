package command

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// Exit codes, as the CLI documents them.
const (
	ExitOK               = 0
	ExitError            = 1
	ExitUsage            = 2
	ExitUnauthenticated  = 3
	ExitPermissionDenied = 4
	ExitNotFound         = 5
)

// Run runs micro with the given arguments and returns its exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	err := App(stdout, stderr).Run(args)
	if err == nil {
		return ExitOK
	}
	var exit cli.ExitCoder
	if errors.As(err, &exit) {
		if msg := exit.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return exit.ExitCode()
	}
	fmt.Fprintln(stderr, err)
	return ExitUsage
}
