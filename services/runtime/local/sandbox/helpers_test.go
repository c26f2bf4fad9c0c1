package sandbox_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/runtime/local/sandbox"
)

// helperEnv names the variable that turns the test binary into the helper
// parent process of TestParentKilled.
const helperEnv = "M3O_SANDBOX_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperParent(dir))
	}
	os.Exit(m.Run())
}

// requireRoot fails the test unless it runs as root; under -short it skips
// instead, saying why. The uid tests must never pass by doing nothing.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if testing.Short() {
		t.Skip("needs root to switch uids; skipped under -short")
	}
	t.Fatal("this test checks per-namespace uids and needs root; run it as root, as CI does, or pass -short")
}

// sharedDir returns a new directory that other uids can search (mode
// 0711), unlike t.TempDir, whose parent is private to the test's user.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newSandbox opens a sandbox in a fresh shared directory.
func newSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	s, err := sandbox.New(sandbox.Config{Dir: sharedDir(t) + "/runtime"})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return s
}

// namespace returns the named namespace of s.
func namespace(t *testing.T, s *sandbox.Sandbox, name string) *sandbox.Namespace {
	t.Helper()
	n, err := s.Namespace(name)
	if err != nil {
		t.Fatalf("Namespace(%q) = %v", name, err)
	}
	return n
}

// result is what a finished process printed and how it ended.
type result struct {
	stdout, stderr string
	exitCode       int
}

// run starts a process in the sandbox and waits for it.
func run(t *testing.T, s *sandbox.Sandbox, n *sandbox.Namespace, name string, env []string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	p, err := s.Start(sandbox.Spec{Namespace: n, Name: name, Path: args[0], Args: args[1:], Env: env, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("Start(%v) = %v", args, err)
	}
	state, _ := p.Wait()
	return result{stdout.String(), stderr.String(), state.ExitCode()}
}

// alive reports whether pid names a process that is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// waitGone polls until pid is gone, failing at the deadline.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) is still alive after 10s", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPidFile polls until path holds a pid, failing at the deadline.
func waitPidFile(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s after 10s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
