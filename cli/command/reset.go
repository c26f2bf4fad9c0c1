package command

import (
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"

	"m3o.dev/services/auth"
	"m3o.dev/services/server"
)

// resetAdminCommand gives the machine's operator the admin account back.
func (a *app) resetAdminCommand() *cli.Command {
	return &cli.Command{
		Name:  "reset-admin",
		Usage: "enable the admin account of a stopped server and give it a new password",
		Description: "Run on the server's machine while 'micro server' is stopped. It enables the account\n" +
			"'admin' in namespace 'micro', sets a new generated password, prints it once and revokes\n" +
			"the tokens the account held. It opens the server's store itself and needs no network.",
		Flags:  storageFlags(),
		Action: a.resetAdmin,
	}
}

func (a *app) resetAdmin(c *cli.Context) error {
	if c.Args().Present() {
		return usageErrorf("'micro server reset-admin' takes no arguments; see 'micro server reset-admin --help'.")
	}
	dataDir, err := dataDirOf(c)
	if err != nil {
		return err
	}
	cfg := server.Config{DataDir: dataDir, Store: c.String("store"), StoreDSN: c.String("store-dsn")}
	password, err := server.ResetAdmin(c.Context, cfg, slog.New(slog.DiscardHandler))
	if errors.Is(err, server.ErrRunning) {
		return failf(ExitError, codes.FailedPrecondition, "micro server is running on data dir %s: stop it first, then run 'micro server reset-admin' again.", dataDir)
	}
	if err != nil {
		return failf(ExitError, codes.Unknown, "micro server reset-admin failed: %s", sentence(err.Error()))
	}
	view := map[string]any{"account": auth.AdminName, "namespace": "micro", "password": password}
	return a.out.print(view, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Account '%s' in namespace 'micro' is enabled, with the new password %s", auth.AdminName, password))
		row(t, "It is shown only this once. Start 'micro server', then log in with 'micro login --username admin'.")
	})
}
