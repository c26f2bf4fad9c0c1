package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/session"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	configv1 "m3o.dev/proto/m3o/config/v1"
)

// configCommand reads and changes the namespace's configuration document.
func (a *app) configCommand() *cli.Command {
	ns := namespaceFlag("`NAMESPACE` whose config to use (admins of micro only; default: yours)")
	return &cli.Command{
		Name:  "config",
		Usage: "read and change the namespace's JSON configuration",
		Description: "Paths are dotted, such as db.user. A value that is not valid JSON is stored as a string,\n" +
			"except one that starts like JSON ({, [ or \"), which is refused.\n" +
			"Secrets are encrypted at rest and read back as \"[secret]\" unless --secret is given.",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:      "get",
				Usage:     "print the value at a path, or the whole document",
				ArgsUsage: "[PATH]",
				Flags:     []cli.Flag{ns, &cli.BoolFlag{Name: "secret", Usage: "show secret values in plaintext"}},
				Action:    a.remote(a.configGet),
			},
			{
				Name:      "set",
				Usage:     "set the value at a path; objects merge, anything else replaces; VALUE - reads stdin",
				ArgsUsage: "PATH VALUE",
				Flags:     []cli.Flag{ns, &cli.BoolFlag{Name: "secret", Usage: "encrypt the value and mask it on read"}},
				Action:    a.remote(a.configSet),
			},
			{
				Name:      "del",
				Aliases:   []string{"delete"},
				Usage:     "delete the value at a path and everything under it",
				ArgsUsage: "PATH",
				Flags:     []cli.Flag{ns},
				Action:    a.remote(a.configDel),
			},
			{
				Name:      "history",
				Usage:     "list the recent versions of the document, newest first",
				ArgsUsage: "[PATH]",
				Flags:     []cli.Flag{ns},
				Action:    a.remote(a.configHistory),
			},
			{
				Name:      "rollback",
				Usage:     "make a new version whose content equals an earlier one",
				ArgsUsage: "VERSION",
				Flags:     []cli.Flag{ns},
				Before:    requireVersion,
				Action:    a.remote(a.configRollback),
			},
		},
	}
}

// configClient returns the config client of conn.
func configClient(conn *session.Conn) configv1.ConfigServiceClient {
	return configv1.NewConfigServiceClient(conn.Client())
}

// configGet prints a value: for people, a string bare and anything else as
// indented JSON; for programs, the value embedded as JSON.
func (a *app) configGet(c *cli.Context, conn *session.Conn) error {
	path := c.Args().First()
	resp, err := configClient(conn).Get(c.Context, &configv1.GetRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Path:      path,
		Secret:    c.Bool("secret"),
	})
	if err != nil {
		return err
	}
	value := jsonValue(resp.GetValue())
	view := map[string]any{"path": path, "value": value, "version": resp.GetVersion()}
	// The value goes straight to stdout: a table writer would realign any
	// tabs inside it.
	return a.out.print(view, func(*tabwriter.Writer) {
		fmt.Fprintln(a.stdout, humanJSON(value))
	})
}

// jsonValue returns v as raw JSON, or as a JSON string when the platform
// sent something that is not JSON, so that the output stays valid.
func jsonValue(v string) json.RawMessage {
	if v == "" {
		return json.RawMessage("null")
	}
	if json.Valid([]byte(v)) {
		return json.RawMessage(v)
	}
	quoted, _ := json.Marshal(v)
	return quoted
}

// humanJSON shows a JSON value to a person: a string without its quotes and
// anything else indented.
func humanJSON(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var out bytes.Buffer
	if json.Indent(&out, v, "", "  ") != nil {
		return string(v)
	}
	return out.String()
}

// configSet sets a value.
func (a *app) configSet(c *cli.Context, conn *session.Conn) error {
	path := c.Args().Get(0)
	value, err := a.value(c.Args().Get(1))
	if err != nil {
		return err
	}
	if err := brokenJSON(value); err != nil {
		return err
	}
	resp, err := configClient(conn).Set(c.Context, &configv1.SetRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Path:      path,
		Value:     string(value),
		Secret:    c.Bool("secret"),
	})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Set %s (version %d).", orWhole(path), resp.GetVersion()))
	})
}

// brokenJSON refuses a value that starts as a JSON object, array or string
// but does not parse. The config service would store it as a string, which
// is not what anyone who typed a brace meant.
func brokenJSON(value []byte) error {
	trimmed := bytes.TrimSpace(value)
	if len(trimmed) == 0 || !strings.ContainsRune(`{["`, rune(trimmed[0])) {
		return nil
	}
	var v any
	err := json.Unmarshal(trimmed, &v)
	if err == nil {
		return nil
	}
	where := ""
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		where = fmt.Sprintf(" at byte %d", syntax.Offset)
	}
	return usageErrorf("VALUE starts like JSON but is not valid JSON%s: %s. To set it as text, give it as a JSON string, in double quotes with its own quotes escaped.", where, err)
}

// configDel deletes a value. An empty PATH, as an unset shell variable
// gives, is refused: to the config service it means the whole document.
func (a *app) configDel(c *cli.Context, conn *session.Conn) error {
	path := c.Args().First()
	if strings.TrimSpace(path) == "" {
		return usageErrorf("PATH is empty: name the value to delete, such as db.user; 'micro config del' never deletes the whole document at once.")
	}
	resp, err := configClient(conn).Delete(c.Context, &configv1.DeleteRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Path:      path,
	})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Deleted %s (version %d).", orWhole(path), resp.GetVersion()))
	})
}

// changesOf names what a history of path covers, for a note that it has no
// changes.
func changesOf(path string) string {
	if path == "" {
		return " to the config"
	}
	return " to " + path
}

// configHistory lists past versions.
func (a *app) configHistory(c *cli.Context, conn *session.Conn) error {
	resp, err := configClient(conn).History(c.Context, &configv1.HistoryRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Path:      c.Args().First(),
	})
	if err != nil {
		return err
	}
	defer a.noneNotef(len(resp.GetChanges()), "No changes%s yet.", changesOf(c.Args().First()))
	return a.out.print(resp, func(t *tabwriter.Writer) {
		names := authorNames(c.Context, conn, c.String("namespace"))
		if own := a.scope.account; own.AccountID != "" {
			names[own.Namespace+"/"+own.AccountID] = own.Account // whoever may list no account knows their own
		}
		row(t, "VERSION", "TIME", "AUTHOR", "ACTION", "PATHS")
		for _, ch := range resp.GetChanges() {
			author := ch.GetAuthor()
			if name, ok := names[author]; ok {
				author = name
			}
			row(t, strconv.FormatUint(ch.GetVersion(), 10), when(ch.GetTime()), orDash(author), ch.GetAction(), orDash(strings.Join(ch.GetPaths(), ", ")))
		}
	})
}

// authorNames maps the authors a namespace's history records, "namespace/
// account id", to the names of that namespace's accounts, so that people
// read who changed what. It is best effort: an author the caller may not
// list, such as an admin of micro, keeps its id.
func authorNames(ctx context.Context, conn *session.Conn, ns string) map[string]string {
	names := map[string]string{}
	req := &authv1.ListRequest{Namespace: ns, PageSize: accountsPageSize}
	for {
		resp, err := accountsClient(conn).List(ctx, req)
		if err != nil {
			return names
		}
		for _, acc := range resp.GetAccounts() {
			names[acc.GetNamespace()+"/"+acc.GetId()] = acc.GetName()
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return names
		}
	}
}

// requireVersion refuses a rollback to anything but a version number.
func requireVersion(c *cli.Context) error {
	if _, err := parseVersion(c.Args().First()); c.Args().Len() == 1 && err != nil {
		return err
	}
	return nil
}

// parseVersion parses a document version.
func parseVersion(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, usageErrorf("VERSION must be a version number from 'micro config history', not %q.", s)
	}
	return v, nil
}

// configRollback returns the document to an earlier version.
func (a *app) configRollback(c *cli.Context, conn *session.Conn) error {
	version, err := parseVersion(c.Args().First())
	if err != nil {
		return err
	}
	resp, err := configClient(conn).Rollback(c.Context, &configv1.RollbackRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Version:   version,
	})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Rolled back to version %d as version %d.", version, resp.GetVersion()))
	})
}

// orWhole names a path for a message; the empty path is the whole document.
func orWhole(path string) string {
	if path == "" {
		return "the whole document"
	}
	return path
}
