package command

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"m3o.dev/cli/internal/envfile"
	"m3o.dev/cli/internal/platformtest"
)

// harness runs micro commands against a platform stand-in, in a home
// directory of their own, with the env 'test' current.
type harness struct {
	t    *testing.T
	p    *platformtest.Platform
	home string
}

// result is what one run of micro left.
type result struct {
	code   int
	stdout string
	stderr string
}

// newHarness starts a platform and a home directory whose current env,
// 'test', points at it. Nobody is logged in.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, p: platformtest.Start(t), home: t.TempDir()}
	// The stand-in's deployments move on with every read.
	interval := pollInterval
	pollInterval = time.Millisecond
	t.Cleanup(func() { pollInterval = interval })
	t.Setenv("HOME", h.home)
	unsetenv(t, "MICRO_ENV")
	unsetenv(t, "MICRO_OUTPUT")
	h.mustRun("env", "add", "test", h.p.Addr, "--ca-file", h.p.CAFile)
	h.mustRun("env", "set", "test")
	return h
}

// unsetenv unsets an environment variable for the test, restoring it after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	os.Unsetenv(key)
}

// run runs micro with args and no input.
func (h *harness) run(args ...string) result {
	return h.runIn("", args...)
}

// runIn runs micro with args, reading stdin.
func (h *harness) runIn(stdin string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := RunWithInput(append([]string{"micro"}, args...), strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs micro with args and fails the test unless it succeeds.
func (h *harness) mustRun(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != ExitOK {
		h.t.Fatalf("micro %s = exit %d (stderr %q, stdout %q), want 0", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r
}

// login logs in to the platform as its admin.
func (h *harness) login() {
	h.t.Helper()
	r := h.runIn(platformtest.Password+"\n", "login", "--username", platformtest.Username, "--password-stdin")
	if r.code != ExitOK {
		h.t.Fatalf("micro login = exit %d (stderr %q), want 0", r.code, r.stderr)
	}
}

// configFile returns the path of the config file.
func (h *harness) configFile() string {
	return filepath.Join(h.home, ".micro", "config.json")
}

// session returns the saved session of env.
func (h *harness) session(env string) (envfile.Session, bool) {
	h.t.Helper()
	f := &envfile.File{}
	data, err := os.ReadFile(h.configFile())
	if err != nil {
		h.t.Fatalf("read config file: %v", err)
	}
	if err := json.Unmarshal(data, f); err != nil {
		h.t.Fatalf("parse config file: %v", err)
	}
	return f.Session(env)
}

// jsonError is the shape of an error in JSON output.
type jsonError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	} `json:"error"`
}

// decodeError parses stdout as a JSON error, failing the test if it is not.
func decodeError(t *testing.T, stdout string) jsonError {
	t.Helper()
	var e jsonError
	if err := json.Unmarshal([]byte(stdout), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("stdout = %q, want a JSON error with a code and a message (%v)", stdout, err)
	}
	return e
}
