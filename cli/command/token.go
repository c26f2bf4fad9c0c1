package command

import (
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/session"
)

// tokenCommand is `micro auth token`.
func (a *app) tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "print the current login's access token, for curl and grpcurl",
		Description: "Prints the bearer token micro itself sends, renewed first when it is about to expire:\n" +
			"  curl -H \"Authorization: Bearer $(micro auth token)\" -d '{\"name\":\"Ann\"}' http://127.0.0.1:8080/v1/call/hello/Hello.Call\n" +
			"It works until its expiry (--output json gives it), minutes away; run it again for another.\n" +
			"Whoever holds it acts as you until then, so keep it out of logs and shared shells.",
		Action: a.remote(a.token),
	}
}

// token prints a current access token of the env's session: alone on its
// line, so that $(micro auth token) is the token, or with its expiry as
// JSON.
func (a *app) token(c *cli.Context, conn *session.Conn) error {
	s, err := conn.Session(c.Context)
	if err != nil {
		return err
	}
	view := map[string]any{"token": s.AccessToken, "expiry": s.Expiry}
	return a.out.print(view, func(t *tabwriter.Writer) { row(t, s.AccessToken) })
}
