package command

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/session"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
)

// passwordCommand is `micro auth accounts password`.
func (a *app) passwordCommand(ns cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "password",
		Usage:     "change your password, or with NAME another account's (admins of its namespace)",
		ArgsUsage: "[NAME]",
		Description: "On a terminal it asks for your current password, then the new one twice, without echo;\n" +
			"an admin setting another account's password is asked only for the new one.\n" +
			"Scripts pass them on stdin with --password-stdin, a line each: the current one, then the new\n" +
			"one once; for another account's, the new one alone.\n" +
			"The account's other logins end when their access tokens expire; yours goes on with the new password.",
		Flags: []cli.Flag{
			ns,
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the passwords from stdin, a line each: current, then new"},
		},
		Action: a.remote(a.changePassword),
	}
}

// changePassword changes the logged-in account's password, which the
// platform holds to the current one, or, for an admin, another account's.
// Changing it revokes the account's refresh tokens, this login's too, so
// for its own password the command logs in again with the new one.
func (a *app) changePassword(c *cli.Context, conn *session.Conn) error {
	own := a.scope.account
	if own.Account == "" {
		return session.ErrNotLoggedIn
	}
	ns, name := a.withNamespace(c.String("namespace")), c.Args().First()
	self := name == "" || (name == own.Account || name == own.AccountID) && (ns == "" || ns == own.Namespace)
	if self {
		ns, name = own.Namespace, own.Account
	}
	current, next, err := a.passwords(c, self)
	if err != nil {
		return err
	}
	_, err = accountsClient(conn).ChangeSecret(c.Context, &authv1.ChangeSecretRequest{
		Namespace: ns, Id: name, OldSecret: current, NewSecret: next,
	})
	if self && status.Code(err) == codes.PermissionDenied {
		// Its own account may change its secret: only the old one was wrong.
		return failf(ExitPermissionDenied, codes.PermissionDenied, "That is not the current password of %s; nothing changed.", name)
	}
	if err != nil {
		return err
	}
	if !self {
		return a.out.print(map[string]any{"account": name, "namespace": ns, "changed": true}, func(t *tabwriter.Writer) {
			row(t, fmt.Sprintf("Changed the password of %s; its logins end when their access tokens expire.", name))
		})
	}
	if _, err := conn.Login(c.Context, own.Namespace, own.Account, next); err != nil {
		f := describe(err, a.scope)
		f.message = "Changed your password, but logging in again with it failed: " + f.message + " Log in with the new password."
		return f
	}
	return a.out.print(map[string]any{"account": name, "namespace": ns, "changed": true}, func(t *tabwriter.Writer) {
		row(t, "Changed your password. This login goes on with it; your other logins end when their access tokens expire.")
	})
}

// passwords returns the current password (for the account's own change
// only) and the new one: typed on a terminal, or a line each on stdin.
func (a *app) passwords(c *cli.Context, self bool) (current, next string, err error) {
	switch {
	case c.Bool("password-stdin"):
		current, next, err = a.readPasswords(self)
	case !a.interactive():
		return "", "", usageErrorf("Cannot ask for passwords: stdin is not a terminal. Use --password-stdin.")
	default:
		current, next, err = a.typePasswords(self)
	}
	if err != nil {
		return "", "", err
	}
	if err := auth.CheckNewSecret(next); err != nil {
		return "", "", usageErrorf("The new password %s.", err)
	}
	if self && next == current {
		return "", "", usageErrorf("The new password is the current one.")
	}
	return current, next, nil
}

// readPasswords reads from stdin the current password, for the account's
// own change, and the new one, a line each.
func (a *app) readPasswords(self bool) (current, next string, err error) {
	data, err := io.ReadAll(io.LimitReader(a.stdin, 8192))
	if err != nil {
		return "", "", err
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n"), "\n")
	want := 1
	if self {
		want = 2
	}
	if len(lines) != want || slices.Contains(lines, "") {
		if self {
			return "", "", usageErrorf("--password-stdin needs two lines: your current password, then the new one.")
		}
		return "", "", usageErrorf("--password-stdin needs one line: the new password.")
	}
	if self {
		return lines[0], lines[1], nil
	}
	return "", lines[0], nil
}

// typePasswords asks on the terminal for the current password, for the
// account's own change, and for the new one twice, without echo.
func (a *app) typePasswords(self bool) (current, next string, err error) {
	if self {
		fmt.Fprint(a.stderr, "Current password: ")
		b, err := term.ReadPassword(int(a.stdin.(*os.File).Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", "", err
		}
		current = string(b)
	}
	next, err = a.typeNewPassword()
	return current, next, err
}
