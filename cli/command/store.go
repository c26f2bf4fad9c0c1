package command

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"google.golang.org/protobuf/types/known/durationpb"

	"m3o.dev/cli/internal/session"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// maxValue is the largest value the store accepts (1 MiB), and more than
// a config value may be. micro reads at most one byte more from stdin, and
// refuses stdin that holds more, instead of sending a value cut short.
const maxValue = 1 << 20

// valueWidth is how much of a value a table row shows.
const valueWidth = 60

// storeCommand reads and writes the namespace's key-value store.
func (a *app) storeCommand() *cli.Command {
	return &cli.Command{
		Name:   "store",
		Usage:  "read and write records in the key-value store",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:      "read",
				Usage:     "print the value of a key, or the records whose keys match a prefix or suffix",
				ArgsUsage: "[KEY]",
				Flags: append(tableFlags(),
					&cli.BoolFlag{Name: "prefix", Usage: "read every record whose key starts with KEY"},
					&cli.BoolFlag{Name: "suffix", Usage: "read every record whose key ends with KEY"},
					&cli.UintFlag{Name: "limit", Usage: "return at most `N` records, up to 1000", DefaultText: "100"},
					&cli.UintFlag{Name: "offset", Usage: "skip the first `N` matching records"},
				),
				Before: requireKey,
				Action: a.remote(a.storeRead),
			},
			{
				Name:      "write",
				Usage:     "write a record; VALUE - reads the value from stdin",
				ArgsUsage: "KEY VALUE",
				Flags: append(tableFlags(),
					&cli.DurationFlag{Name: "ttl", Usage: "expire the record after `DURATION`, such as 1h"},
					&cli.Uint64Flag{Name: "if-version", DefaultText: "any version", Usage: "write only if the record is at `VERSION` (0: only if it does not exist)"},
					&cli.StringSliceFlag{Name: "metadata", Usage: "attach `KEY=VALUE` metadata; repeat for more"},
				),
				Action: a.remote(a.storeWrite),
			},
			{
				Name:      "delete",
				Aliases:   []string{"del"}, // as config del
				Usage:     "delete a record",
				ArgsUsage: "KEY",
				Flags: append(tableFlags(),
					&cli.Uint64Flag{Name: "if-version", DefaultText: "any version", Usage: "delete only if the record is at `VERSION`"},
				),
				Action: a.remote(a.storeDelete),
			},
			{
				Name:  "list",
				Usage: "list the keys of a table",
				Flags: append(tableFlags(),
					&cli.StringFlag{Name: "prefix", Usage: "list only keys starting with `PREFIX`"},
					&cli.StringFlag{Name: "suffix", Usage: "list only keys ending with `SUFFIX`"},
					&cli.UintFlag{Name: "limit", Usage: "list at most `N` keys, up to 10000", DefaultText: "1000"},
				),
				Action: a.remote(a.storeList),
			},
			{
				Name:   "databases",
				Usage:  "list the databases that hold records",
				Action: a.remote(a.storeDatabases),
			},
			{
				Name:   "tables",
				Usage:  "list the tables of a database that hold records",
				Flags:  []cli.Flag{databaseFlag()},
				Action: a.remote(a.storeTables),
			},
		},
	}
}

// databaseFlag selects a database; the platform defaults it to the
// caller's namespace.
func databaseFlag() cli.Flag {
	return &cli.StringFlag{Name: "database", Usage: "`DATABASE` to use (default: your namespace)"}
}

// tableFlags select a database and a table.
func tableFlags() []cli.Flag {
	return []cli.Flag{
		databaseFlag(),
		&cli.StringFlag{Name: "table", Usage: "`TABLE` to use (default: default)"},
	}
}

// storeClient returns the store client of conn.
func storeClient(conn *session.Conn) storev1.StoreServiceClient {
	return storev1.NewStoreServiceClient(conn.Client())
}

// requireKey refuses a read without KEY unless it matches by prefix or
// suffix, where an empty KEY matches every record.
func requireKey(c *cli.Context) error {
	if c.Args().Len() == 0 && !c.Bool("prefix") && !c.Bool("suffix") {
		return usageErrorf("'micro store read' needs KEY unless --prefix or --suffix is given.")
	}
	return nil
}

// storeRead reads one key, or many by prefix or suffix.
func (a *app) storeRead(c *cli.Context, conn *session.Conn) error {
	resp, err := storeClient(conn).Read(c.Context, &storev1.ReadRequest{
		Database: c.String("database"),
		Table:    c.String("table"),
		Key:      c.Args().First(),
		Prefix:   c.Bool("prefix"),
		Suffix:   c.Bool("suffix"),
		Limit:    uint32(c.Uint("limit")),
		Offset:   uint32(c.Uint("offset")),
	})
	if err != nil {
		return err
	}
	if !c.Bool("prefix") && !c.Bool("suffix") {
		return a.printValue(resp.GetRecords())
	}
	prefix, suffix := "", c.Args().First()
	if c.Bool("prefix") {
		prefix, suffix = suffix, ""
	}
	defer a.noneNotef(len(resp.GetRecords()), "No records%s in %s.", matching(prefix, suffix), a.tableOf(c))
	return a.printRecords(resp)
}

// matching says which keys a read or list matched, for a note that none
// did.
func matching(prefix, suffix string) string {
	var by []string
	if prefix != "" {
		by = append(by, fmt.Sprintf("the prefix %q", prefix))
	}
	if suffix != "" {
		by = append(by, fmt.Sprintf("the suffix %q", suffix))
	}
	if len(by) == 0 {
		return ""
	}
	return " with " + strings.Join(by, " and ")
}

// tableOf names the table of c's --database and --table, with their
// defaults.
func (a *app) tableOf(c *cli.Context) string {
	tbl := c.String("table")
	if tbl == "" {
		tbl = "default"
	}
	return fmt.Sprintf("table '%s' of %s", tbl, a.databaseOf(c))
}

// databaseOf names the database of c's --database, with its default.
func (a *app) databaseOf(c *cli.Context) string {
	db := c.String("database")
	if db == "" {
		db = a.scope.namespace
	}
	return fmt.Sprintf("database '%s'", db)
}

// printValue prints the value of a single-key read as it is stored, text
// ending in a newline; a binary value gets none, so that '> FILE' gives
// back exactly what was written.
func (a *app) printValue(records []*storev1.Record) error {
	if len(records) != 1 {
		return fmt.Errorf("read returned %d records for one key", len(records))
	}
	rec := records[0]
	if a.out.json {
		return a.out.encode(recordOutput(rec))
	}
	value := rec.GetValue()
	if isText(value) && !bytes.HasSuffix(value, []byte("\n")) {
		value = append(value, '\n')
	}
	_, err := a.stdout.Write(value)
	return err
}

// isText reports whether a value reads as text: UTF-8 without NUL bytes,
// the test git uses to tell binary files.
func isText(value []byte) bool {
	return utf8.Valid(value) && bytes.IndexByte(value, 0) < 0
}

// printRecords prints the records of a prefix or suffix read.
func (a *app) printRecords(resp *storev1.ReadResponse) error {
	if resp.GetNextPageToken() != "" && !a.out.json {
		defer a.notef("More records match: raise --limit or read on with --offset.")
	}
	out := readOutput{Records: make([]recordJSON, 0, len(resp.GetRecords())), NextPageToken: resp.GetNextPageToken()}
	for _, r := range resp.GetRecords() {
		out.Records = append(out.Records, recordOutput(r))
	}
	return a.out.print(out, func(t *tabwriter.Writer) {
		row(t, "KEY", "VALUE", "VERSION", "EXPIRES")
		for _, r := range resp.GetRecords() {
			row(t, r.GetKey(), preview(r.GetValue()), strconv.FormatUint(r.GetVersion(), 10), when(r.GetExpiresAt()))
		}
	})
}

// preview shows a value in one table cell: text up to valueWidth runes, or
// its size when it is not text.
func preview(v []byte) string {
	if !utf8.Valid(v) {
		return fmt.Sprintf("<%d bytes>", len(v))
	}
	s := string(v)
	if utf8.RuneCountInString(s) > valueWidth {
		s = string([]rune(s)[:valueWidth-1]) + "…"
	}
	return s
}

// storeWrite writes one record.
func (a *app) storeWrite(c *cli.Context, conn *session.Conn) error {
	key := c.Args().Get(0)
	value, err := a.value(c.Args().Get(1))
	if err != nil {
		return err
	}
	md, err := metadata(c.StringSlice("metadata"))
	if err != nil {
		return err
	}
	req := &storev1.WriteRequest{
		Database: c.String("database"),
		Table:    c.String("table"),
		Record:   &storev1.Record{Key: key, Value: value, Metadata: md},
	}
	if c.IsSet("ttl") {
		req.Ttl = durationpb.New(c.Duration("ttl"))
	}
	if c.IsSet("if-version") {
		v := c.Uint64("if-version")
		req.IfVersion = &v
	}
	resp, err := storeClient(conn).Write(c.Context, req)
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Wrote %q at version %d.", key, resp.GetVersion()))
	})
}

// value returns the value argument, or stdin when it is "-".
func (a *app) value(arg string) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	value, err := io.ReadAll(io.LimitReader(a.stdin, maxValue+1))
	if err != nil {
		return nil, err
	}
	if len(value) > maxValue {
		return nil, usageErrorf("VALUE on stdin is over %d bytes (1 MiB), more than the platform takes.", maxValue)
	}
	return value, nil
}

// metadata parses KEY=VALUE pairs.
func metadata(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	md := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--metadata %q must be KEY=VALUE.", p)
		}
		md[k] = v
	}
	return md, nil
}

// storeDelete deletes one record.
func (a *app) storeDelete(c *cli.Context, conn *session.Conn) error {
	key := c.Args().First()
	req := &storev1.DeleteRequest{Database: c.String("database"), Table: c.String("table"), Key: key}
	if c.IsSet("if-version") {
		v := c.Uint64("if-version")
		req.IfVersion = &v
	}
	if _, err := storeClient(conn).Delete(c.Context, req); err != nil {
		return err
	}
	return a.out.print(map[string]any{"key": key, "deleted": true}, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Deleted %q.", key))
	})
}

// storeList lists the keys of a table.
func (a *app) storeList(c *cli.Context, conn *session.Conn) error {
	resp, err := storeClient(conn).List(c.Context, &storev1.ListRequest{
		Database: c.String("database"),
		Table:    c.String("table"),
		Prefix:   c.String("prefix"),
		Suffix:   c.String("suffix"),
		Limit:    uint32(c.Uint("limit")),
	})
	if err != nil {
		return err
	}
	if resp.GetNextPageToken() != "" && !a.out.json {
		defer a.notef("More keys match: raise --limit or narrow --prefix.")
	}
	defer a.noneNotef(len(resp.GetKeys()), "No keys%s in %s.", matching(c.String("prefix"), c.String("suffix")), a.tableOf(c))
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, "KEY")
		for _, k := range resp.GetKeys() {
			row(t, k)
		}
	})
}

// storeDatabases lists databases.
func (a *app) storeDatabases(c *cli.Context, conn *session.Conn) error {
	resp, err := storeClient(conn).Databases(c.Context, &storev1.DatabasesRequest{})
	if err != nil {
		return err
	}
	defer a.noneNotef(len(resp.GetDatabases()), "No databases yet: the first 'micro store write' makes one named after your namespace.")
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, "DATABASE")
		for _, d := range resp.GetDatabases() {
			row(t, d)
		}
	})
}

// storeTables lists the tables of a database.
func (a *app) storeTables(c *cli.Context, conn *session.Conn) error {
	resp, err := storeClient(conn).Tables(c.Context, &storev1.TablesRequest{Database: c.String("database")})
	if err != nil {
		return err
	}
	defer a.noneNotef(len(resp.GetTables()), "No tables in %s yet: the first 'micro store write' to one makes it.", a.databaseOf(c))
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, "TABLE")
		for _, tbl := range resp.GetTables() {
			row(t, tbl)
		}
	})
}
