package command

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"

	"m3o.dev/cli/internal/skeleton"
)

// newOutput is `micro new` in `--output json`.
type newOutput struct {
	Name   string   `json:"name"`
	Dir    string   `json:"dir"`
	Module string   `json:"module"`
	SDK    string   `json:"sdk"`
	Files  []string `json:"files"`
}

// newCommand is `micro new`.
func (a *app) newCommand() *cli.Command {
	return &cli.Command{
		Name:  "new",
		Usage: "write the folder of a new service, ready for 'micro run'",
		Description: "Writes go.mod, main.go, a handler, the proto API with its generated Go code, a README\n" +
			"and a Makefile. It builds offline with 'go build' and 'micro run .': the SDK micro ships\n" +
			"is copied to ~/.micro/sdk and named by a go.work, which uploads leave out.",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "write into `DIR` (default: ./NAME)"},
			&cli.StringFlag{Name: "module", Usage: "Go module `PATH` (default: NAME)"},
		},
		Action: a.local(a.newService),
	}
}

// newService installs the SDK and writes the skeleton.
func (a *app) newService(c *cli.Context) error {
	name, dir := c.Args().First(), c.String("dir")
	if dir == "" {
		dir = name
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return failf(ExitError, codes.FailedPrecondition, "Cannot find your home directory, where the SDK goes: set HOME.")
	}
	sdk, err := skeleton.InstallSDK(filepath.Join(home, ".micro", "sdk"))
	if err != nil {
		return err
	}
	res, err := skeleton.Write(skeleton.Options{Name: name, Module: c.String("module"), Dir: dir, SDKDir: sdk})
	switch {
	case errors.Is(err, skeleton.ErrInvalidName):
		return usageErrorf("Cannot create %s: %s", name, sentence(detail(err, skeleton.ErrInvalidName)))
	case errors.Is(err, skeleton.ErrNotEmpty):
		return failf(ExitError, codes.AlreadyExists, "Cannot create %s: %s already exists and is not empty; choose another --dir.", name, dir)
	case err != nil:
		return err
	}
	out := newOutput{Name: name, Dir: dir, Module: res.Module, SDK: sdk, Files: res.Files}
	return a.out.print(out, func(t *tabwriter.Writer) {
		fmt.Fprintf(t, "Created %s in %s:\n", name, dir)
		for _, f := range res.Files {
			fmt.Fprintf(t, "  %s\n", f)
		}
		fmt.Fprintf(t, "\nRun it on the platform:\n  cd %s && micro run .\n  micro call %s %s '{\"name\": \"Ann\"}'\n", dir, name, res.Method)
	})
}
