package supervise_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"m3o.dev/services/runtime/local/logs"
	"m3o.dev/services/runtime/local/sandbox"
	"m3o.dev/services/runtime/local/supervise"
)

// allocEnv turns the test binary into a process that holds the given
// number of MiB of touched memory.
const allocEnv = "M3O_SUPERVISE_TEST_ALLOC_MIB"

// helperBin is a copy of the test binary that namespace uids can run.
var helperBin string

func TestMain(m *testing.M) {
	if mib := os.Getenv(allocEnv); mib != "" {
		allocate(mib)
	}
	dir, err := os.MkdirTemp("", "m3o-supervise-test-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		helperBin = filepath.Join(dir, "helper")
		err = copyExecutable(os.Args[0], helperBin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// allocate writes to every page of a slice of the given MiB, so they are
// resident, then sleeps until killed.
func allocate(mib string) {
	n, _ := strconv.Atoi(mib)
	buf := make([]byte, n<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	fmt.Println("allocated", n, "MiB")
	time.Sleep(time.Hour)
	fmt.Println(buf[len(buf)-4096])
	os.Exit(0)
}

// copyExecutable copies the file at src to dst with mode 0755.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// fixture is a sandbox, a namespace and a log for one test.
type fixture struct {
	sb  *sandbox.Sandbox
	ns  *sandbox.Namespace
	log *logs.Log
	rec *recorder
}

// newFixture makes a sandbox in a directory other uids can search.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-supervise-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711)
	sb, err := sandbox.New(sandbox.Config{Dir: filepath.Join(dir, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := sb.Namespace("supervise-test")
	if err != nil {
		t.Fatal(err)
	}
	log, err := logs.Open(filepath.Join(dir, "logs"), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &fixture{sb: sb, ns: ns, log: log, rec: &recorder{}}
}

// start supervises a shell script with the given config.
func (f *fixture) start(t *testing.T, script string, cfg supervise.Config) *supervise.Supervisor {
	t.Helper()
	if cfg.Spec.Path == "" {
		cfg.Spec = sandbox.Spec{Name: "inst-0", Path: "/bin/sh", Args: []string{"-c", script}}
	}
	cfg.Spec.Namespace, cfg.Sandbox, cfg.Log, cfg.OnChange = f.ns, f.sb, f.log, f.rec.add
	s, err := supervise.Start(cfg)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// recorder keeps every status OnChange reported.
type recorder struct {
	mu   sync.Mutex
	list []supervise.Status
}

// add implements Config.OnChange.
func (r *recorder) add(s supervise.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, s)
}

// waits returns the statuses that began a wait after an exit, in order.
func (r *recorder) waits() []supervise.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []supervise.Status
	for _, s := range r.list {
		if s.State == supervise.Crashed || s.State == supervise.Error {
			out = append(out, s)
		}
	}
	return out
}

// waitFor polls s until cond holds, failing at a deadline.
func waitFor(t *testing.T, s *supervise.Supervisor, what string, cond func(supervise.Status) bool) supervise.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s; status %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
