// Command auth serves m3o.auth.v1 on its own, as it runs in production;
// `micro server` runs the same service in one process with the others.
package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/auth/authserver"
	"m3o.dev/services/internal/corekit"
)

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the auth's own.
func newApp() *cli.App {
	return corekit.App(authserver.Spec, flags(), run)
}

// flags are the auth service's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Auth)
	return []cli.Flag{
		f.String("data-dir", "/var/lib/m3o/auth", "`DIR` where a generated admin password is kept"),
	}
}

// run serves until ctx ends. The admin password is read from the
// environment only, so that it never shows in a process listing.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	return authserver.Run(ctx, authserver.Config{
		DataDir:       c.String("data-dir"),
		AdminPassword: os.Getenv("MICRO_ADMIN_PASSWORD"),
	}, p)
}
