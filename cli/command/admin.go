package command

import "github.com/urfave/cli/v2"

// adminCommand holds what admins of micro do to other namespaces.
func (a *app) adminCommand() *cli.Command {
	return &cli.Command{
		Name:   "admin",
		Usage:  "administer the platform's namespaces (admins of micro)",
		Action: a.group,
		Subcommands: []*cli.Command{
			a.adminResizeCommand(), a.adminQuotaCommand(), a.adminNamespacesCommand(),
			a.adminBillingCommand(), a.adminInviteCommand(),
		},
	}
}
