package command

import (
	"crypto/rand"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/session"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// accountsPageSize is the largest page AccountsService.List returns, so that
// listing a namespace takes as few round trips as it can.
const accountsPageSize = 1000

// authCommand manages accounts and access rules.
func (a *app) authCommand() *cli.Command {
	return &cli.Command{
		Name:        "auth",
		Usage:       "manage accounts and access rules, and print your access token",
		Action:      a.group,
		Subcommands: []*cli.Command{a.accountsCommand(), a.rulesCommand(), a.tokenCommand()},
	}
}

// accountsCommand manages the accounts of a namespace.
func (a *app) accountsCommand() *cli.Command {
	ns := namespaceFlag("`NAMESPACE` of the accounts (admins of micro only; default: yours)")
	return &cli.Command{
		Name:   "accounts",
		Usage:  "list, create, disable, enable and delete accounts, and change passwords",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "list the accounts of a namespace",
				Flags:  []cli.Flag{ns},
				Action: a.remote(a.accountsList),
			},
			{
				Name:      "create",
				Usage:     "create an account, generating and printing a password unless one is given",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					ns,
					&cli.StringFlag{Name: "password", Usage: "`PASSWORD` of the account, 8 to 1024 bytes"},
					&cli.StringSliceFlag{Name: "roles", Usage: "comma-separated `ROLES` to grant, such as developer"},
				},
				Action: a.remote(a.accountsCreate),
			},
			{
				Name:      "delete",
				Aliases:   []string{"del"},
				Usage:     "delete an account and revoke its tokens",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{ns},
				Action:    a.remote(a.accountsDelete),
			},
			{
				Name:      "disable",
				Usage:     "stop an account from logging in and revoke its tokens, keeping the account",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{ns},
				Action:    a.remote(a.accountsDisable),
			},
			{
				Name:      "enable",
				Usage:     "let a disabled account log in again (admins of its namespace or of micro)",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{ns},
				Action:    a.remote(a.accountsEnable),
			},
			a.passwordCommand(ns),
		},
	}
}

// accountsClient returns the accounts client of conn.
func accountsClient(conn *session.Conn) authv1.AccountsServiceClient {
	return authv1.NewAccountsServiceClient(conn.Client())
}

// accountsList lists every account of a namespace, page by page.
func (a *app) accountsList(c *cli.Context, conn *session.Conn) error {
	ns := a.withNamespace(c.String("namespace"))
	all := &authv1.ListResponse{}
	for {
		resp, err := accountsClient(conn).List(c.Context, &authv1.ListRequest{
			Namespace: ns, PageSize: accountsPageSize, PageToken: all.GetNextPageToken(),
		})
		if err != nil {
			return err
		}
		all.Accounts = append(all.Accounts, resp.GetAccounts()...)
		if all.NextPageToken = resp.GetNextPageToken(); all.NextPageToken == "" {
			break
		}
	}
	return a.out.print(all, func(t *tabwriter.Writer) {
		row(t, "NAME", "NAMESPACE", "TYPE", "ROLES", "STATUS", "CREATED")
		for _, acc := range all.GetAccounts() {
			row(t, acc.GetName(), acc.GetNamespace(), enumWord(acc.GetType().String(), "ACCOUNT_TYPE_"),
				orDash(strings.Join(acc.GetRoles(), ",")), enumWord(acc.GetStatus().String(), "ACCOUNT_STATUS_"), when(acc.GetCreated()))
		}
	})
}

// accountsCreate creates an account.
func (a *app) accountsCreate(c *cli.Context, conn *session.Conn) error {
	password, generated := c.String("password"), false
	if password == "" {
		// rand.Text is 26 base32 characters: 130 random bits, and nothing
		// a shell would need quoted.
		password, generated = rand.Text(), true
	}
	resp, err := accountsClient(conn).Create(c.Context, &authv1.CreateRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Name:      c.Args().First(),
		Secret:    password,
		Type:      authv1.AccountType_ACCOUNT_TYPE_USER,
		Roles:     c.StringSlice("roles"),
	})
	if err != nil {
		return err
	}
	acc := resp.GetAccount()
	view := map[string]any{"account": rawProto(acc)}
	if generated {
		// The one time a password is printed: the user asked for one to be
		// made and has no other way to learn it.
		view["password"] = password
	}
	return a.out.print(view, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Created account %s in namespace '%s'.", acc.GetName(), acc.GetNamespace()))
		if generated {
			row(t, "Its password is "+password+" and will not be shown again.")
		}
		row(t, fmt.Sprintf("Log in to it with '%s'.", loginCommand(acc.GetName(), acc.GetNamespace())))
	})
}

// accountsDelete deletes an account.
func (a *app) accountsDelete(c *cli.Context, conn *session.Conn) error {
	name := c.Args().First()
	_, err := accountsClient(conn).Delete(c.Context, &authv1.DeleteRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Id:        name,
	})
	if err != nil {
		return err
	}
	return a.out.print(map[string]any{"account": name, "deleted": true}, func(t *tabwriter.Writer) {
		row(t, "Deleted account "+name+" and revoked its tokens.")
	})
}

// accountsDisable disables an account.
func (a *app) accountsDisable(c *cli.Context, conn *session.Conn) error {
	name, ns := c.Args().First(), a.withNamespace(c.String("namespace"))
	if _, err := accountsClient(conn).Disable(c.Context, &authv1.DisableRequest{Namespace: ns, Id: name}); err != nil {
		return err
	}
	enable := "micro auth accounts enable " + name
	if flag := c.String("namespace"); flag != "" {
		enable = "micro auth accounts enable --namespace " + flag + " " + name
	}
	return a.out.print(map[string]any{"account": name, "disabled": true}, func(t *tabwriter.Writer) {
		row(t, "Disabled account "+name+" and revoked its tokens; '"+enable+"' lets it log in again.")
	})
}

// accountsEnable enables a disabled account.
func (a *app) accountsEnable(c *cli.Context, conn *session.Conn) error {
	ns := a.withNamespace(c.String("namespace"))
	resp, err := accountsClient(conn).Enable(c.Context, &authv1.EnableRequest{Namespace: ns, Id: c.Args().First()})
	if err != nil {
		return err
	}
	acc := resp.GetAccount()
	return a.out.print(map[string]any{"account": rawProto(acc)}, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Enabled account %s in namespace '%s'. It can log in again; the tokens it held before stay revoked.", acc.GetName(), acc.GetNamespace()))
	})
}

// enumWord shows a proto enum value as a lower-case word: ACCESS_GRANT is
// "grant".
func enumWord(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}
