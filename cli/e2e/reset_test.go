package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestResetAdmin is the operator's way back to the admin account: refused
// while the server runs, then, with it stopped, a new password that logs in
// once the server is back, where the old one no longer does.
func TestResetAdmin(t *testing.T) {
	p := newPlatform(t)
	p.start()
	p.useTestEnv()

	r := p.exits(1, "server", "reset-admin", "--data-dir", p.dataDir)
	if want := "micro server is running on data dir " + p.dataDir + ": stop it first"; !strings.Contains(r.stderr, want) {
		t.Errorf("reset-admin while running: stderr = %q, want it to say %q", r.stderr, want)
	}
	login(t, p, "micro", "admin", adminPassword)

	p.stop()
	var out struct{ Account, Namespace, Password string }
	if err := json.Unmarshal([]byte(p.must("server", "reset-admin", "--data-dir", p.dataDir, "-o", "json")), &out); err != nil {
		t.Fatalf("reset-admin -o json: %v", err)
	}
	if out.Account != "admin" || out.Namespace != "micro" || len(out.Password) < 16 {
		t.Fatalf("reset-admin -o json = %+v, want a new password for admin of micro", out)
	}
	p.start()
	p.exits(exitNotLoggedIn, "whoami")
	r = p.micro(adminPassword+"\n", "login", "--username", "admin", "--password-stdin")
	if r.code != exitNotLoggedIn {
		t.Errorf("login with the old password = exit %d, want %d", r.code, exitNotLoggedIn)
	}
	login(t, p, "micro", "admin", out.Password)
	if got := p.must("whoami"); !strings.Contains(got, "admin") {
		t.Errorf("whoami after the reset = %q, want the admin", got)
	}
}
