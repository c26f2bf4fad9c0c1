package command

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofrs/flock"
)

// TestServerResetAdmin runs 'micro server reset-admin' on a data dir whose
// server holds its lock, which is refused with exit 1, and on one whose
// server is stopped, which prints the new password once, as JSON too.
func TestServerResetAdmin(t *testing.T) {
	h := newHarness(t)
	dataDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dataDir, "store"), 0o700); err != nil {
		t.Fatal(err)
	}
	lock := flock.New(filepath.Join(dataDir, "server.lock"))
	if ok, err := lock.TryLock(); !ok || err != nil {
		t.Fatalf("lock the data dir: %v, %v", ok, err)
	}
	r := h.run("server", "reset-admin", "--data-dir", dataDir)
	want := "micro server is running on data dir " + dataDir + ": stop it first, then run 'micro server reset-admin' again.\n"
	if r.code != ExitError || r.stderr != want {
		t.Errorf("reset-admin while running = exit %d, stderr %q, want %d and %q", r.code, r.stderr, ExitError, want)
	}
	lock.Unlock()

	r = h.run("server", "reset-admin", "--data-dir", dataDir, "-o", "json")
	var out struct{ Account, Namespace, Password string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != ExitOK {
		t.Fatalf("reset-admin -o json = exit %d, %q (%v), want a JSON result", r.code, r.stdout, err)
	}
	if out.Account != "admin" || out.Namespace != "micro" || len(out.Password) < 16 {
		t.Errorf("reset-admin -o json = %+v, want admin of micro with a long password", out)
	}
	r = h.mustRun("server", "reset-admin", "--data-dir", dataDir)
	if !strings.Contains(r.stdout, "new password ") || strings.Contains(r.stdout, out.Password) {
		t.Errorf("reset-admin = %q, want a new password, not the last one", r.stdout)
	}
	if r := h.run("server", "reset-admin", "--data-dir", t.TempDir()); r.code != ExitError || !strings.Contains(r.stderr, "no micro server data") {
		t.Errorf("reset-admin on an empty data dir = exit %d, %q, want 1 naming the missing data", r.code, r.stderr)
	}
}

// TestServerProcs checks when micro server raises GOMAXPROCS: on one CPU
// only, and never over a value someone set or a quota's choice.
func TestServerProcs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cpus, procs int
		env         string
		want        int
	}{
		{"one CPU", 1, 1, "", 2},
		{"one CPU, GOMAXPROCS=1 set", 1, 1, "1", 1},
		{"a quota of one CPU on four", 4, 1, "", 1},
		{"four CPUs", 4, 4, "", 4},
	} {
		if got := serverProcs(tc.cpus, tc.procs, tc.env); got != tc.want {
			t.Errorf("%s: serverProcs(%d, %d, %q) = %d, want %d", tc.name, tc.cpus, tc.procs, tc.env, got, tc.want)
		}
	}
}
