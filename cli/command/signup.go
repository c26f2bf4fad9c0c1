package command

import (
	"bufio"
	"context"
	"encoding/json"
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
	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/cli/internal/session"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
)

// paymentPollInterval is how often sign-up asks whether the subscribe page
// has taken the card, as Micro's CLI did.
const paymentPollInterval = 2 * time.Second

// signupCommand signs an invited email up: its own namespace, account and
// subscription.
func (a *app) signupCommand() *cli.Command {
	return &cli.Command{
		Name:  "signup",
		Usage: "sign up with an invited email: a code by mail, a card, then a namespace of your own",
		Description: "Sign-up is by invitation. 'micro signup --email E' mails a code to E. On a terminal it then\n" +
			"asks for the code and a password (twice), shows the subscribe page ($35.00/month), opens it\n" +
			"in a browser unless --no-browser is given, waits for the card and logs you in to your new\n" +
			"namespace. In a script, run it again with the code:\n\n" +
			"   micro signup --email E --code CODE --password-stdin --no-browser < password-file\n\n" +
			"which prints the subscribe page's URL first ({\"subscribe_url\": ...} with -o json), waits\n" +
			"for the card and completes. A sign-up interrupted after the card resumes with a new code.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "email", Usage: "invited email `ADDRESS` to sign up with"},
			&cli.StringFlag{Name: "code", Usage: "the 8-digit `CODE` the email received"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the new account's password from stdin"},
			&cli.BoolFlag{Name: "no-browser", Usage: "do not open the subscribe page in a browser"},
		},
		Action: a.remote(a.signup),
	}
}

// signup runs as much of a sign-up as the flags and the terminal allow:
// without --code it mails one, then goes on only on a terminal.
func (a *app) signup(c *cli.Context, conn *session.Conn) error {
	email, err := a.signupEmail(c)
	if err != nil {
		return err
	}
	code := c.String("code")
	if code == "" {
		if code, err = a.codeByMail(c, conn, email); err != nil || code == "" {
			return err
		}
	}
	secret, err := a.newPassword(c)
	if err != nil {
		return err
	}
	token, err := a.verify(c.Context, conn, email, code)
	if err != nil {
		return err
	}
	if err := a.pay(c, conn, email, token); err != nil {
		return err
	}
	return a.completeSignup(c.Context, conn, email, token, secret)
}

// signupEmail returns --email, or asks for it on a terminal.
func (a *app) signupEmail(c *cli.Context) (string, error) {
	if email := c.String("email"); email != "" {
		return email, nil
	}
	if !a.typing(c) {
		return "", usageErrorf("'micro signup' needs --email when it cannot ask for it on a terminal.")
	}
	email, err := a.promptLine("Email: ")
	if err != nil || email == "" {
		return "", usageErrorf("'micro signup' needs an email.")
	}
	return email, nil
}

// typing reports whether a person answers prompts: stdin is a terminal
// and no password is piped to it.
func (a *app) typing(c *cli.Context) bool {
	return a.interactive() && !c.Bool("password-stdin")
}

// promptLine shows prompt on stderr and reads one line from stdin.
func (a *app) promptLine(prompt string) (string, error) {
	fmt.Fprint(a.stderr, prompt)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// codeByMail asks for a code to be mailed, then for the code as askForCode
// does.
func (a *app) codeByMail(c *cli.Context, conn *session.Conn, email string) (string, error) {
	resp, err := authv1.NewSignupServiceClient(conn.Client()).SendVerificationEmail(c.Context, &authv1.SendVerificationEmailRequest{Email: email})
	if err != nil {
		return "", err
	}
	return a.askForCode(c, codeMail{
		email: email, expiry: resp.GetExpiry(), command: "micro signup",
		sent: fmt.Sprintf("If %s is invited and has no account yet, a code is on its way to it; it works until %s.", email, when(resp.GetExpiry())),
		next: fmt.Sprintf("micro signup --email %s --code CODE --password-stdin", email), stdin: "the password",
	})
}

// codeMail is what a command says once it has asked for a code by mail.
type codeMail struct {
	email  string
	expiry *timestamppb.Timestamp
	// command is the command, named when the code is missing.
	command string
	// sent says that a code is on its way and until when it works.
	sent string
	// next is the command that goes on with the code, for scripts, and
	// stdin what it reads there.
	next, stdin string
}

// askForCode says that a code is on its way. On a terminal it then asks
// for the code; otherwise it says how to go on and returns no code.
func (a *app) askForCode(c *cli.Context, m codeMail) (string, error) {
	if !a.typing(c) {
		view := map[string]any{"email": m.email, "message": m.sent, "expiry": m.expiry.AsTime(), "next": m.next}
		return "", a.out.print(view, func(t *tabwriter.Writer) {
			row(t, m.sent)
			row(t, fmt.Sprintf("Then run, with %s on stdin: %s", m.stdin, m.next))
		})
	}
	a.notef("%s", m.sent)
	code, err := a.promptLine("Code from the email: ")
	if err != nil || code == "" {
		return "", usageErrorf("'%s' needs the code from the email.", m.command)
	}
	return code, nil
}

// newPassword returns the new account's password, from stdin or typed
// twice on a terminal, checked by the platform's rule before anything is
// paid.
func (a *app) newPassword(c *cli.Context) (string, error) {
	var secret string
	var err error
	switch {
	case c.Bool("password-stdin"):
		secret, err = a.readSecret()
	case !a.interactive():
		return "", usageErrorf("Cannot ask for a password: stdin is not a terminal. Use --password-stdin.")
	default:
		secret, err = a.typeNewPassword()
	}
	if err != nil {
		return "", err
	}
	if err := auth.CheckNewSecret(secret); err != nil {
		return "", usageErrorf("The password %s.", err)
	}
	return secret, nil
}

// typeNewPassword reads a new password typed twice without echo.
func (a *app) typeNewPassword() (string, error) {
	fd := int(a.stdin.(*os.File).Fd())
	var typed [2]string
	for i, prompt := range []string{"New password: ", "Again: "} {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", err
		}
		typed[i] = string(b)
	}
	if typed[0] != typed[1] {
		return "", usageErrorf("The passwords do not match.")
	}
	return typed[0], nil
}

// verify trades the code for a sign-up token.
func (a *app) verify(ctx context.Context, conn *session.Conn, email, code string) (string, error) {
	resp, err := authv1.NewSignupServiceClient(conn.Client()).Verify(ctx, &authv1.VerifyRequest{Email: email, Code: code})
	if status.Code(err) == codes.Unauthenticated {
		return "", failf(ExitUnauthenticated, codes.Unauthenticated,
			"The code is wrong or has expired (a code works for 60 minutes and 5 tries): run 'micro signup --email %s' for a new one.", email)
	}
	if err != nil {
		return "", err
	}
	return resp.GetSignupToken(), nil
}

// pay shows the subscribe page, opens it in a browser when it may, and
// waits until the page has taken the card.
func (a *app) pay(c *cli.Context, conn *session.Conn, email, token string) error {
	signup := authv1.NewSignupServiceClient(conn.Client())
	resp, err := signup.StartPayment(c.Context, &authv1.StartPaymentRequest{SignupToken: token})
	if err != nil {
		return signupTokenError(err, email)
	}
	url := resp.GetSubscribeUrl()
	if err := a.showSubscribePage(url); err != nil {
		return err
	}
	if !c.Bool("no-browser") && openBrowser(url) {
		a.notef("Opened the subscribe page in your browser.")
	}
	return a.waitForCard(c.Context, signup, email, token)
}

// showSubscribePage prints the subscribe page's URL: for JSON output, as a
// first line of its own that a script can act on while micro waits.
func (a *app) showSubscribePage(url string) error {
	if a.out.json {
		line, err := json.Marshal(map[string]string{"subscribe_url": url})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", line)
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "Open this page to subscribe ($35.00/month) with your card:\n  %s\n", url)
	return err
}

// waitForCard asks every paymentPollInterval whether the card is in place,
// showing that it waits on stderr, until it is or ctx ends.
func (a *app) waitForCard(ctx context.Context, signup authv1.SignupServiceClient, email, token string) error {
	a.notef("Waiting for the card on the subscribe page (Ctrl-C stops; a new code resumes the sign-up)...")
	dots := a.stderrIsTerminal()
	tick := time.NewTicker(paymentPollInterval)
	defer tick.Stop()
	for {
		resp, err := signup.PaymentStatus(ctx, &authv1.PaymentStatusRequest{SignupToken: token})
		switch {
		case err == nil && resp.GetPaymentMethodReady():
			a.progressDone(dots, "Card in place.")
			return nil
		case err != nil && status.Code(err) != codes.Unavailable:
			return signupTokenError(err, email)
		}
		if dots {
			fmt.Fprint(a.stderr, ".")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// progressDone ends the line of progress dots, if any, with msg.
func (a *app) progressDone(dots bool, msg string) {
	if dots {
		fmt.Fprintln(a.stderr)
	}
	a.notef("%s", msg)
}

// stderrIsTerminal reports whether a person watches stderr.
func (a *app) stderrIsTerminal() bool {
	f, ok := a.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// completeSignup finishes the sign-up, saves the new account's tokens as
// the env's session, and says where the account is.
func (a *app) completeSignup(ctx context.Context, conn *session.Conn, email, token, secret string) error {
	resp, err := authv1.NewSignupServiceClient(conn.Client()).CompleteSignup(ctx, &authv1.CompleteSignupRequest{SignupToken: token, Secret: secret})
	if err != nil {
		return signupTokenError(err, email)
	}
	s, err := conn.SignedUp(resp)
	if err != nil {
		return err
	}
	env := a.scope.env
	a.withNamespace(s.Namespace)
	return a.out.print(sessionView(env, s), func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Signed up: %s is the admin of namespace '%s', logged in to env '%s' (%s).", s.Account, s.Namespace, env.Name, env.Address))
	})
}

// signupTokenError explains a refused sign-up token; any other error
// passes on.
func signupTokenError(err error, email string) error {
	if status.Code(err) != codes.Unauthenticated {
		return err
	}
	return failf(ExitUnauthenticated, codes.Unauthenticated,
		"The sign-up token has expired: run 'micro signup --email %s' for a new code; the sign-up resumes where it stopped.", email)
}
