package command

import (
	"fmt"
	"runtime"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// versionCommand prints the version of this binary.
func (a *app) versionCommand() *cli.Command {
	return &cli.Command{
		Name:   "version",
		Usage:  "print the version of micro",
		Action: a.local(a.version),
	}
}

// version prints the release, and the Go release and platform it was built
// with, which a bug report needs.
func (a *app) version(*cli.Context) error {
	view := map[string]string{"version": Version, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH}
	return a.out.print(view, func(t *tabwriter.Writer) {
		fmt.Fprintf(t, "micro %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	})
}
