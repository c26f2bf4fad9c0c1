package command

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/session"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// adminInviteCommand is `micro admin invite`: the sign-up allowlist, for
// admins of micro.
func (a *app) adminInviteCommand() *cli.Command {
	return &cli.Command{
		Name:   "invite",
		Usage:  "manage the emails invited to sign up",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "invite an email to sign up, mailing it how to",
				ArgsUsage: "EMAIL",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "resend", Usage: "mail the invitation again when the email is already invited"},
				},
				Action: a.remote(a.inviteAdd),
			},
			{
				Name:      "remove",
				Aliases:   []string{"rm"},
				Usage:     "withdraw an invite; an account made with it stays",
				ArgsUsage: "EMAIL",
				Action:    a.remote(a.inviteRemove),
			},
			{
				Name:   "list",
				Usage:  "list the invited emails",
				Action: a.remote(a.inviteList),
			},
		},
	}
}

func inviteClient(conn *session.Conn) authv1.InviteServiceClient {
	return authv1.NewInviteServiceClient(conn.Client())
}

// inviteAdd puts an email on the allowlist, or with --resend mails an
// invited one again.
func (a *app) inviteAdd(c *cli.Context, conn *session.Conn) error {
	req := &authv1.InviteServiceAddRequest{Email: c.Args().First(), Resend: c.Bool("resend")}
	resp, err := inviteClient(conn).Add(c.Context, req)
	if status.Code(err) == codes.AlreadyExists {
		email := strings.ToLower(req.GetEmail())
		return failf(ExitError, codes.AlreadyExists, "%s is already invited; 'micro admin invite add %s --resend' mails the invitation again.", email, email)
	}
	if err != nil {
		return err
	}
	email := resp.GetInvite().GetEmail()
	return a.out.print(resp.GetInvite(), func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Invited %s, and mailed them how to sign up: 'micro signup --email %s'.", email, email))
	})
}

// inviteRemove takes an email off the allowlist.
func (a *app) inviteRemove(c *cli.Context, conn *session.Conn) error {
	email := c.Args().First()
	if _, err := inviteClient(conn).Remove(c.Context, &authv1.InviteServiceRemoveRequest{Email: email}); err != nil {
		return err
	}
	return a.out.print(map[string]any{"email": email, "removed": true}, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Removed the invite of %s.", email))
	})
}

// signedUp says when and to which namespace an invited email signed up,
// or "-" when it has not.
func signedUp(inv *authv1.Invite) string {
	if inv.GetSignedUp() == nil {
		return "-"
	}
	return fmt.Sprintf("%s (namespace %s)", when(inv.GetSignedUp()), inv.GetNamespace())
}

// inviteList shows the allowlist.
func (a *app) inviteList(c *cli.Context, conn *session.Conn) error {
	resp, err := inviteClient(conn).List(c.Context, &authv1.InviteServiceListRequest{})
	if err != nil {
		return err
	}
	defer a.noneNotef(len(resp.GetInvites()), "No one is invited. 'micro admin invite add EMAIL' invites someone.")
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, "EMAIL", "INVITED BY", "INVITED", "SIGNED UP")
		for _, inv := range resp.GetInvites() {
			row(t, inv.GetEmail(), orDash(inv.GetCreatedBy()), when(inv.GetCreated()), signedUp(inv))
		}
	})
}
