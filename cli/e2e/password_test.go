package e2e

import (
	"testing"
	"time"

	"m3o.dev/cli/internal/envfile"
)

// TestChangePassword changes passwords on micro server as its users would:
// a developer changes its own with the current one, and its login goes on
// through the next refresh; an admin of the namespace sets the developer's
// password without it. Each old password stops working.
func TestChangePassword(t *testing.T) {
	p := newPlatform(t)
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	p.must("auth", "accounts", "create", "owner", "--namespace", "team-ns", "--password", "owner-password-1", "--roles", "admin,developer")
	p.must("auth", "accounts", "create", "dev", "--namespace", "team-ns", "--password", "dev-password-1", "--roles", "developer")
	login(t, p, "team-ns", "dev", "dev-password-1")

	r := p.micro("dev-password-0\ndev-password-2\n", "auth", "accounts", "password", "--password-stdin")
	if want := "That is not the current password of dev; nothing changed.\n"; r.code != exitDenied || r.stderr != want {
		t.Errorf("password with a wrong current one = exit %d, %q, want %d, %q", r.code, r.stderr, exitDenied, want)
	}
	r = p.micro("dev-password-1\ndev-password-2\n", "auth", "accounts", "password", "--password-stdin")
	if r.code != 0 {
		t.Fatalf("password = exit %d (%q), want 0", r.code, r.stderr)
	}
	expireAccessToken(t, p)
	p.must("store", "write", "greeting", "hello") // refreshes with the login the change made
	wantLogin(t, p, "dev", "dev-password-1", exitNotLoggedIn)
	wantLogin(t, p, "dev", "dev-password-2", 0)

	login(t, p, "team-ns", "owner", "owner-password-1")
	if r := p.micro("dev-password-3\n", "auth", "accounts", "password", "dev", "--password-stdin"); r.code != 0 {
		t.Errorf("password dev as the namespace's admin = exit %d (%q), want 0", r.code, r.stderr)
	}
	wantLogin(t, p, "dev", "dev-password-2", exitNotLoggedIn)
	wantLogin(t, p, "dev", "dev-password-3", 0)
}

// expireAccessToken makes the saved session's access token look expired,
// so that the next command refreshes it with the saved refresh token.
func expireAccessToken(t *testing.T, p *platform) {
	t.Helper()
	err := envfile.NewStore(p.home, nil).Update(func(f *envfile.File) error {
		s, _ := f.Session("test")
		s.Expiry = time.Now().Add(-time.Minute)
		f.SetSession("test", s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wantLogin logs in to team-ns as name with password and checks the exit
// code.
func wantLogin(t *testing.T, p *platform, name, password string, code int) {
	t.Helper()
	if r := p.micro(password+"\n", "login", "--namespace", "team-ns", "--username", name, "--password-stdin"); r.code != code {
		t.Errorf("login as %s with %s = exit %d (%q), want %d", name, password, r.code, r.stderr, code)
	}
}
