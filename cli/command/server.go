package command

import (
	"github.com/urfave/cli/v2"
)

// serverCommand runs the whole platform in this process.
func serverCommand() *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "run the whole platform on this machine with embedded backends",
		Action: func(c *cli.Context) error {
			return cli.Exit("micro server is not available in this build.", ExitError)
		},
	}
}
