package command

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// jsonCase runs one command with --output json after some setup.
type jsonCase struct {
	command string // the command's full name, such as "store read"
	setup   [][]string
	args    []string // the arguments after the command's name
	stdin   string
	remote  bool // whether it calls the platform
}

// jsonCases covers every command but server, which another package owns.
var jsonCases = []jsonCase{
	{command: "env"},
	{command: "env set", args: []string{"platform"}},
	{command: "env add", args: []string{"staging", "staging.example.com:443"}},
	{command: "env del", setup: [][]string{{"env", "add", "staging", "s:1"}}, args: []string{"staging"}},
	{command: "login", args: []string{"-u", "admin", "--password", "correct horse"}, remote: true},
	{command: "logout", remote: true},
	{command: "whoami", remote: true},
	{command: "services", remote: true},
	{command: "store read", setup: [][]string{{"store", "write", "k", "v"}}, args: []string{"k"}, remote: true},
	{command: "store write", args: []string{"k", "v", "--ttl", "1h", "--metadata", "a=b"}, remote: true},
	{command: "store delete", setup: [][]string{{"store", "write", "k", "v"}}, args: []string{"k"}, remote: true},
	{command: "store list", remote: true},
	{command: "store databases", remote: true},
	{command: "store tables", remote: true},
	{command: "config get", setup: [][]string{{"config", "set", "db", `{"user":"ann"}`}}, args: []string{"db"}, remote: true},
	{command: "config set", args: []string{"db.user", "ann"}, remote: true},
	{command: "config del", setup: [][]string{{"config", "set", "db", "x"}}, args: []string{"db"}, remote: true},
	{command: "config history", remote: true},
	{command: "bench", args: []string{"--clients", "1", "--duration", "200ms", "--keys", "2"}, remote: true},
	{command: "config rollback", setup: [][]string{{"config", "set", "db", "x"}}, args: []string{"1"}, remote: true},
	{command: "auth accounts list", remote: true},
	{command: "auth accounts create", args: []string{"bob", "--roles", "developer"}, remote: true},
	{command: "auth accounts delete", setup: [][]string{{"auth", "accounts", "create", "bob"}}, args: []string{"bob"}, remote: true},
	{command: "auth accounts disable", setup: [][]string{{"auth", "accounts", "create", "bob"}}, args: []string{"bob"}, remote: true},
	{command: "auth accounts enable", setup: [][]string{{"auth", "accounts", "create", "bob"}, {"auth", "accounts", "disable", "bob"}}, args: []string{"bob"}, remote: true},
	{command: "auth accounts password", setup: [][]string{{"auth", "accounts", "create", "bob"}}, args: []string{"bob", "--password-stdin"}, stdin: "bob-password-2\n", remote: true},
	{command: "auth token"}, // reads the saved login; calls the platform only to renew it
	{command: "auth rules list", remote: true},
	{command: "auth rules create", args: []string{"--scope", "*", "--resource", "service:hello:*", "--access", "grant", "--priority", "5"}, remote: true},
	{command: "auth rules delete", args: []string{"rule-1"}, remote: true},
	{command: "auth rules explain", args: []string{"--account", "admin", "--resource", "service:hello:Hello.Call"}, remote: true},
	{command: "billing status", remote: true},
	{command: "billing portal", remote: true},
	{command: "billing cancel", remote: true},
	{command: "billing resume", remote: true},
	{command: "admin billing status", args: []string{"tenant-a", "--set", "past_due"}, remote: true},
	{command: "admin resize", args: []string{"hello", "--namespace", "tenant-a", "--instances", "3"}, remote: true},
	{command: "admin quota get", args: []string{"tenant-a"}, remote: true},
	{command: "admin quota set", args: []string{"tenant-a", "--services", "5"}, remote: true},
	{command: "admin namespaces", remote: true},
	{command: "new", args: []string{"hello"}},
	{command: "run", setup: [][]string{{"new", "hello"}}, args: []string{"hello"}, remote: true},
	{command: "status", setup: [][]string{{"new", "hello"}, {"run", "hello"}}, remote: true},
	{command: "logs", setup: [][]string{{"new", "hello"}, {"run", "hello"}}, args: []string{"hello"}, remote: true},
	{command: "update", setup: [][]string{{"new", "hello"}, {"run", "hello"}}, args: []string{"hello", "hello", "--env", "A=b"}, remote: true},
	{command: "kill", setup: [][]string{{"new", "hello"}, {"run", "hello"}}, args: []string{"hello"}, remote: true},
	{command: "call", args: []string{"hello", "Hello.Call", `{"name":"Ann"}`}, remote: true},
	{command: "call", args: []string{"hello"}, remote: true}, // the methods
	{command: "admin invite add", args: []string{"ann@example.com"}, remote: true},
	{command: "admin invite remove", setup: [][]string{{"admin", "invite", "add", "ann@example.com"}}, args: []string{"ann@example.com"}, remote: true},
	{command: "admin invite list", setup: [][]string{{"admin", "invite", "add", "ann@example.com"}}, remote: true},
	{command: "signup", args: []string{"--email", "ann@example.com"}, remote: true},
	{command: "completion", args: []string{"bash"}},
	{command: "version"},
}

// line returns the full command line of c.
func (c jsonCase) line() []string {
	return append(strings.Fields(c.command), c.args...)
}

func TestJSONOutput(t *testing.T) {
	for _, tc := range jsonCases {
		t.Run(tc.command, func(t *testing.T) {
			t.Chdir(t.TempDir()) // where new writes and run reads
			h := newHarness(t)
			h.login()
			for _, s := range tc.setup {
				h.mustRun(s...)
			}
			r := h.runIn(tc.stdin, append([]string{"--output", "json"}, tc.line()...)...)
			if r.code != ExitOK {
				t.Fatalf("micro -o json %s = exit %d (stdout %q, stderr %q), want 0", strings.Join(tc.line(), " "), r.code, r.stdout, r.stderr)
			}
			assertJSON(t, tc, r.stdout)
		})
	}
}

// TestJSONErrors checks that every command reports errors as JSON too: a
// usage error for all, and a refusal from the platform for those that call
// it.
func TestJSONErrors(t *testing.T) {
	for _, tc := range jsonCases {
		t.Run(tc.command, func(t *testing.T) {
			t.Chdir(t.TempDir())
			h := newHarness(t)
			h.login()
			r := h.runIn(tc.stdin, append(tc.line(), "--bogus", "-o", "json")...)
			if e := decodeError(t, r.stdout); r.code != ExitUsage || e.Error.Code != codes.InvalidArgument.String() {
				t.Errorf("micro %s --bogus -o json = exit %d, %+v, want %d and code InvalidArgument", tc.command, r.code, e.Error, ExitUsage)
			}
			if !tc.remote {
				return
			}
			for _, s := range tc.setup {
				h.mustRun(s...)
			}
			h.p.FailWith(status.Error(codes.PermissionDenied, "admins only"))
			r = h.runIn(tc.stdin, append(tc.line(), "-o", "json")...)
			if tc.command == "login" || tc.command == "logout" {
				// They call only the public or best-effort RPCs.
				return
			}
			if e := decodeError(t, r.stdout); r.code != ExitPermissionDenied || e.Error.Code != codes.PermissionDenied.String() {
				t.Errorf("micro %s -o json, refused = exit %d, %+v, want %d and code PermissionDenied", tc.command, r.code, e.Error, ExitPermissionDenied)
			}
			if r.stderr != "" {
				t.Errorf("micro %s -o json, refused, stderr = %q, want nothing", tc.command, r.stderr)
			}
		})
	}
}

// assertJSON checks that stdout is exactly one JSON value, an object.
func assertJSON(t *testing.T, tc jsonCase, stdout string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("micro -o json %s stdout = %q, want a JSON object: %v", tc.command, stdout, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("micro -o json %s stdout = %q, want nothing after the JSON value", tc.command, stdout)
	}
	if _, ok := v["error"]; ok {
		t.Errorf("micro -o json %s = %q, want a result, not an error", tc.command, stdout)
	}
	// One layout for every command, whichever encoder made it.
	var laidOut bytes.Buffer
	if err := json.Indent(&laidOut, []byte(stdout), "", "  "); err == nil && laidOut.String() != stdout {
		t.Errorf("micro -o json %s = %q, want it laid out as encoding/json does:\n%s", tc.command, stdout, laidOut.String())
	}
}

// TestJSONCasesCoverEveryCommand keeps the JSON tests honest as commands
// are added: every runnable command must have a case.
func TestJSONCasesCoverEveryCommand(t *testing.T) {
	var covered []string
	for _, tc := range jsonCases {
		covered = append(covered, tc.command)
	}
	for _, name := range runnable(newApp(nil, io.Discard, io.Discard).cli().Commands, "") {
		if name == "server" || strings.HasPrefix(name, "server ") {
			continue // owned and tested with the server (reset-admin: server_test.go)
		}
		if !slices.Contains(covered, name) {
			t.Errorf("command %q has no case in jsonCases", name)
		}
	}
}

// runnable returns the full names of the commands that do something other
// than show their subcommands.
func runnable(cmds []*cli.Command, prefix string) []string {
	var names []string
	for _, c := range cmds {
		name := strings.TrimSpace(prefix + " " + c.Name)
		if !isGroup(c) {
			names = append(names, name)
		}
		names = append(names, runnable(c.Subcommands, name)...)
	}
	return names
}

// isGroup reports whether c only groups subcommands, which its action being
// app.group says. 'micro env' is not: it has subcommands but lists envs too.
func isGroup(c *cli.Command) bool {
	return reflect.ValueOf(c.Action).Pointer() == reflect.ValueOf((&app{}).group).Pointer()
}
