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

// forgotPassword is `micro login --forgot-password`: it has a code mailed
// to the email that names the account, then sets a new password with the
// code and logs in. On a terminal it asks for the code and the password;
// scripts run it twice, the second time with --code and the password on
// stdin.
func (a *app) forgotPassword(c *cli.Context, conn *session.Conn) error {
	ns := a.withNamespace(c.String("namespace"))
	email, err := a.username(c)
	if err != nil {
		return err
	}
	if !strings.Contains(email, "@") {
		return usageErrorf("--forgot-password needs the email that names your account as --username; an account named otherwise asks an admin of its namespace for a new password.")
	}
	code := c.String("code")
	if code == "" {
		if code, err = a.resetCodeByMail(c, conn, email, ns); err != nil || code == "" {
			return err
		}
	}
	secret, err := a.newPassword(c)
	if err != nil {
		return err
	}
	resp, err := authv1.NewAuthServiceClient(conn.Client()).ResetPassword(c.Context, &authv1.ResetPasswordRequest{
		Email: email, Namespace: ns, Code: code, NewSecret: secret,
	})
	if status.Code(err) == codes.Unauthenticated {
		return failf(ExitUnauthenticated, codes.Unauthenticated,
			"The code is wrong or has expired; after a few wrong tries a code stops working. '%s' mails a new one.", forgotCommand(email, ns))
	}
	if err != nil {
		return err
	}
	s, err := conn.PasswordReset(resp)
	if err != nil {
		return err
	}
	env := a.scope.env
	return a.out.print(sessionView(env, s), func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Reset the password of %s and logged in to env '%s' (%s) in namespace '%s'.", s.Account, env.Name, env.Address, s.Namespace))
	})
}

// resetCodeByMail asks for a code to be mailed to email, then for the code
// as askForCode does.
func (a *app) resetCodeByMail(c *cli.Context, conn *session.Conn, email, ns string) (string, error) {
	resp, err := authv1.NewAuthServiceClient(conn.Client()).SendPasswordReset(c.Context, &authv1.SendPasswordResetRequest{Email: email, Namespace: ns})
	if err != nil {
		return "", err
	}
	return a.askForCode(c, codeMail{
		email: email, expiry: resp.GetExpiry(), command: "micro login --forgot-password",
		sent: fmt.Sprintf("If %s names an account, a code that resets its password is on its way to it; it works until %s.", email, when(resp.GetExpiry())),
		next: forgotCommand(email, ns) + " --code CODE --password-stdin", stdin: "the new password",
	})
}

// forgotHint points a failed login by email to --forgot-password.
func forgotHint(name, ns string) string {
	if !strings.Contains(name, "@") {
		return ""
	}
	return fmt.Sprintf(" Forgot it? '%s' mails a code to reset it.", forgotCommand(name, ns))
}

// forgotCommand is the command that mails a reset code to email.
func forgotCommand(email, ns string) string {
	cmd := "micro login --forgot-password --username " + email
	if ns != "" {
		cmd += " --namespace " + ns
	}
	return cmd
}
