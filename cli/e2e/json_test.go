package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONOutput runs the CLI's commands with --output json against a real
// server: stdout must parse as JSON whether the command succeeds or fails.
func TestJSONOutput(t *testing.T) {
	p := newPlatform(t)
	p.start()
	p.useTestEnv()
	checkJSON(t, p, 3, "store", "read", "k")
	login(t, p, "micro", "admin", adminPassword)
	module := t.TempDir()
	if err := os.WriteFile(filepath.Join(module, "go.mod"), []byte("module hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		code int
		args []string
	}{
		{0, []string{"env"}},
		{0, []string{"whoami"}},
		{0, []string{"version"}},
		{0, []string{"services"}},
		{0, []string{"store", "write", "k", "v"}},
		{0, []string{"store", "read", "k"}},
		{0, []string{"store", "read", "", "--prefix"}},
		{0, []string{"store", "list"}},
		{0, []string{"store", "databases"}},
		{0, []string{"store", "tables"}},
		{0, []string{"store", "delete", "k"}},
		{5, []string{"store", "read", "k"}},
		{1, []string{"store", "write", "k", "v", "--if-version", "7"}},
		{0, []string{"config", "set", "a.b", "1"}},
		{0, []string{"config", "get", "a"}},
		{0, []string{"config", "history"}},
		{0, []string{"config", "rollback", "1"}},
		{0, []string{"config", "del", "a"}},
		{5, []string{"config", "get", "a"}},
		{0, []string{"auth", "accounts", "create", "carol", "--password", "carols-password"}},
		{0, []string{"auth", "accounts", "list"}},
		{0, []string{"auth", "rules", "create", "--id", "deny-web", "--scope", "*", "--resource", "service:web:*", "--access", "deny", "--priority", "5"}},
		{0, []string{"auth", "rules", "list"}},
		{0, []string{"auth", "rules", "explain", "--resource", "service:web:Call", "--account", "carol"}},
		{0, []string{"auth", "rules", "delete", "deny-web"}},
		{0, []string{"auth", "accounts", "delete", "carol"}},
		{5, []string{"auth", "accounts", "delete", "carol"}},
		{2, []string{"store", "read"}},
		{2, []string{"store", "frobnicate"}},
		{0, []string{"new", "hello", "--dir", filepath.Join(t.TempDir(), "hello")}},
		{0, []string{"status"}},
		{5, []string{"status", "hello"}},
		{5, []string{"logs", "hello"}},
		{5, []string{"update", "hello"}},
		{5, []string{"kill", "hello"}},
		{5, []string{"call", "hello", "Hello.Call", `{"name":"Ann"}`}},
		{1, []string{"run", module, "--name", "hello"}},      // services never run in micro
		{2, []string{"run", t.TempDir(), "--name", "hello"}}, // no go.mod
		{2, []string{"run", "--name", "hello"}},
		{0, []string{"completion", "bash"}},
		{0, []string{"logout"}},
	}
	for _, s := range steps {
		checkJSON(t, p, s.code, s.args...)
	}
}

func checkJSON(t *testing.T, p *platform, code int, args ...string) {
	t.Helper()
	r := p.micro("", append([]string{"--output", "json"}, args...)...)
	name := strings.Join(args, " ")
	if r.code != code {
		t.Errorf("micro -o json %s = exit %d, want %d\nstdout: %s\nstderr: %s", name, r.code, code, r.stdout, r.stderr)
	}
	if args[0] == "completion" {
		return // a completion script is shell, whatever the format
	}
	if !json.Valid([]byte(r.stdout)) {
		t.Errorf("micro -o json %s: stdout is not JSON: %q", name, r.stdout)
	}
	if code != 0 && !strings.Contains(r.stdout, `"error"`) {
		t.Errorf("micro -o json %s: stdout = %q, want an error object", name, r.stdout)
	}
}
