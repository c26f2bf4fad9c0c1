package command

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/envfile"
	"m3o.dev/cli/internal/session"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// defaultNamespace is where the platform's admins and core services live.
const defaultNamespace = "micro"

// logoutRevokeTimeout bounds the courtesy revocation at logout, which must
// not keep a user waiting on an unreachable platform.
const logoutRevokeTimeout = 5 * time.Second

// loginCommand logs in to the current env.
func (a *app) loginCommand() *cli.Command {
	return &cli.Command{
		Name:  "login",
		Usage: "log in to the current env and save its tokens",
		Description: "Asks for the username and, on a terminal, the password without echoing it.\n" +
			"Scripts pass the password on stdin with --password-stdin.\n\n" +
			"Forgot the password of an account named by your email? --forgot-password mails a code to it,\n" +
			"then, on a terminal, asks for the code and a new password (twice) and logs in. Scripts run it\n" +
			"twice: once to mail the code, then with --code CODE and the new password on stdin.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Usage: "`NAMESPACE` of the account (default: the namespace of the one account named by an email, else micro)"},
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "account `NAME`"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "account `PASSWORD`; visible to other users of this machine, prefer --password-stdin"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from stdin"},
			&cli.BoolFlag{Name: "forgot-password", Usage: "reset a forgotten password with a code mailed to the email that names the account"},
			&cli.StringFlag{Name: "code", Usage: "the `CODE` --forgot-password mailed"},
		},
		Action: a.remote(a.login),
	}
}

// login exchanges a name and password for tokens, or resets a forgotten
// password.
func (a *app) login(c *cli.Context, conn *session.Conn) error {
	switch forgot := c.Bool("forgot-password"); {
	case forgot && c.String("password") != "":
		return usageErrorf("--forgot-password sets a new password: give it on a terminal or on stdin with --password-stdin, not with --password.")
	case forgot:
		return a.forgotPassword(c, conn)
	case c.String("code") != "":
		return usageErrorf("--code goes with --forgot-password.")
	}
	ns := a.withNamespace(c.String("namespace"))
	name, err := a.username(c)
	if err != nil {
		return err
	}
	secret, err := a.password(c)
	if err != nil {
		return err
	}
	s, err := conn.Login(c.Context, ns, name, secret)
	if code := status.Code(err); code == codes.Unauthenticated || code == codes.NotFound {
		return failf(ExitUnauthenticated, codes.Unauthenticated, "Wrong username or password%s in env '%s' (%s).%s",
			loginWhere(ns, name), a.scope.env.Name, a.scope.env.Address, forgotHint(name, ns)+namespaceHint(name, ns))
	}
	if status.Code(err) == codes.FailedPrecondition {
		return usageErrorf("%s is the name of accounts in several namespaces of env '%s': give the one to log in to with --namespace.",
			name, a.scope.env.Name)
	}
	if err != nil {
		return err
	}
	env := a.scope.env
	return a.out.print(sessionView(env, s), func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Logged in to env '%s' (%s) as %s in namespace '%s'.", env.Name, env.Address, s.Account, s.Namespace))
	})
}

// loginWhere says where a failed login looked: in the namespace given; in
// micro for a name that is no email; for an email, in whichever namespace
// has the one account it names.
func loginWhere(ns, name string) string {
	switch {
	case ns != "":
		return fmt.Sprintf(" for namespace '%s'", ns)
	case strings.Contains(name, "@"):
		return ""
	}
	return fmt.Sprintf(" for namespace '%s'", defaultNamespace)
}

// namespaceHint points a failed login of a name that is not an email, and
// so was looked up in micro, to --namespace.
func namespaceHint(name, ns string) string {
	if ns != "" || strings.Contains(name, "@") {
		return ""
	}
	return " An account of another namespace logs in with --namespace NAMESPACE."
}

// loginCommand is the command that logs in to the account name of ns.
// Emails are unique across the platform and micro is the default, so
// either needs no --namespace.
func loginCommand(name, ns string) string {
	if ns == defaultNamespace || strings.Contains(name, "@") {
		return "micro login --username " + name
	}
	return "micro login --namespace " + ns + " --username " + name
}

// sessionView is what login shows of a session: never its tokens.
func sessionView(env envfile.Env, s envfile.Session) map[string]any {
	return map[string]any{"env": env.Name, "address": env.Address, "account": s.Account, "namespace": s.Namespace, "expiry": s.Expiry}
}

// username returns --username, or asks for it on a terminal.
func (a *app) username(c *cli.Context) (string, error) {
	if name := c.String("username"); name != "" {
		return name, nil
	}
	if !a.interactive() || c.Bool("password-stdin") {
		return "", usageErrorf("'micro login' needs --username when it cannot ask for it on a terminal.")
	}
	fmt.Fprint(a.stderr, "Username: ")
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	name := strings.TrimSpace(line)
	if name == "" {
		return "", usageErrorf("'micro login' needs a username.")
	}
	if err != nil && err != io.EOF {
		return "", err
	}
	return name, nil
}

// password returns the password from --password, from stdin, or typed on a
// terminal without echo.
func (a *app) password(c *cli.Context) (string, error) {
	given, fromStdin := c.String("password"), c.Bool("password-stdin")
	switch {
	case given != "" && fromStdin:
		return "", usageErrorf("Give either --password or --password-stdin, not both.")
	case given != "":
		return given, nil
	case fromStdin:
		return a.readSecret()
	case !a.interactive():
		return "", usageErrorf("Cannot ask for a password: stdin is not a terminal. Use --password-stdin.")
	}
	fmt.Fprint(a.stderr, "Password: ")
	secret, err := term.ReadPassword(int(a.stdin.(*os.File).Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	return string(secret), nil
}

// readSecret reads a password piped to stdin, without its final newline.
func (a *app) readSecret() (string, error) {
	data, err := io.ReadAll(io.LimitReader(a.stdin, 4096))
	if err != nil {
		return "", err
	}
	secret := strings.TrimRight(string(data), "\r\n")
	if secret == "" {
		return "", usageErrorf("--password-stdin read an empty password.")
	}
	return secret, nil
}

// interactive reports whether stdin is a terminal a person types at.
func (a *app) interactive() bool {
	f, ok := a.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logoutCommand forgets the current env's tokens.
func (a *app) logoutCommand() *cli.Command {
	return &cli.Command{
		Name:   "logout",
		Usage:  "forget the tokens of the current env and revoke them",
		Action: a.local(a.logout),
	}
}

// logout forgets the env's session. It works even when the env cannot be
// dialled, for instance after the local server's data was wiped: being
// logged out must never depend on the platform.
func (a *app) logout(c *cli.Context) error {
	store, f, env, err := a.env(c)
	if err != nil {
		return err
	}
	if _, ok := f.Session(env.Name); !ok {
		return a.out.print(map[string]any{"env": env.Name, "logged_out": false, "revoked": false}, func(t *tabwriter.Writer) {
			row(t, fmt.Sprintf("Not logged in to env '%s' (%s).", env.Name, env.Address))
		})
	}
	revoked, err := a.revokeAndForget(c.Context, store, env)
	if err != nil {
		return err
	}
	return a.out.print(map[string]any{"env": env.Name, "logged_out": true, "revoked": revoked}, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Logged out of env '%s' (%s).", env.Name, env.Address))
		if !revoked {
			row(t, "The platform could not be told, so the session's tokens stay valid until they expire.")
		}
	})
}

// revokeAndForget ends the env's session on the platform, if the env can
// be reached, which refuses its refresh token and its access tokens alike,
// and forgets the session in any case.
func (a *app) revokeAndForget(ctx context.Context, store *envfile.Store, env envfile.Env) (revoked bool, err error) {
	conn, err := session.Dial(env, store)
	if err != nil {
		return false, store.Update(func(f *envfile.File) error {
			f.ForgetSession(env.Name)
			return nil
		})
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, logoutRevokeTimeout)
	defer cancel()
	return conn.Logout(ctx)
}

// whoamiCommand shows who the current env's session belongs to.
func (a *app) whoamiCommand() *cli.Command {
	return &cli.Command{
		Name:   "whoami",
		Usage:  "show the env, account, namespace and roles of the current login",
		Action: a.remote(a.whoami),
	}
}

// whoami asks the platform about the session's token, so that what it shows
// is what the platform believes, not what the config file remembers.
func (a *app) whoami(c *cli.Context, conn *session.Conn) error {
	token, err := conn.AccessToken(c.Context)
	if err != nil {
		return err
	}
	resp, err := authv1.NewAuthServiceClient(conn.Client()).Inspect(c.Context, &authv1.InspectRequest{Token: token})
	if err != nil {
		return err
	}
	env, acc := a.scope.env, resp.GetAccount()
	view := map[string]any{"env": env.Name, "address": env.Address, "account": rawProto(acc), "expiry": resp.GetExpiry().AsTime()}
	return a.out.print(view, func(t *tabwriter.Writer) {
		row(t, "ENV", env.Name+" ("+env.Address+")")
		row(t, "ACCOUNT", acc.GetName())
		row(t, "NAMESPACE", acc.GetNamespace())
		row(t, "ROLES", orDash(strings.Join(acc.GetRoles(), ", ")))
		// The access token's, which micro renews as it goes: without the
		// note, people read it as the end of their login.
		row(t, "EXPIRES", when(resp.GetExpiry())+" (the access token; micro renews it while you stay logged in)")
	})
}
