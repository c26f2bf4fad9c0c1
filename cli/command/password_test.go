package command

import (
	"strings"
	"testing"

	"m3o.dev/cli/internal/platformtest"
)

// TestChangeOwnPassword checks that the logged-in account changes its
// password with the current one, and goes on logged in with the new one
// though the change revoked its refresh token.
func TestChangeOwnPassword(t *testing.T) {
	h := newHarness(t)
	h.login()
	r := h.runIn("not the password\nnew-password-1\n", "auth", "accounts", "password", "--password-stdin")
	if want := "That is not the current password of admin; nothing changed.\n"; r.code != ExitPermissionDenied || r.stderr != want {
		t.Errorf("password with a wrong current one = exit %d, %q, want %d, %q", r.code, r.stderr, ExitPermissionDenied, want)
	}
	before, _ := h.session("test")
	r = h.runIn(platformtest.Password+"\nnew-password-1\n", "auth", "accounts", "password", "--password-stdin")
	if want := "Changed your password. This login goes on with it; your other logins end when their access tokens expire.\n"; r.code != ExitOK || r.stdout != want {
		t.Fatalf("password = exit %d, %q (%q), want 0, %q", r.code, r.stdout, r.stderr, want)
	}
	if after, _ := h.session("test"); after.RefreshToken == before.RefreshToken {
		t.Errorf("the session kept the refresh token the change revoked")
	}
	h.p.ForgetAccessTokens() // the next call refreshes, with the new login's token
	h.mustRun("store", "databases")
	if r := h.runIn("new-password-1\n", "login", "--username", platformtest.Username, "--password-stdin"); r.code != ExitOK {
		t.Errorf("login with the new password = exit %d (%q), want 0", r.code, r.stderr)
	}
}

// TestChangePasswordRefusals checks what is refused before anything is
// sent: passwords that are not there, a new one too short or the same.
func TestChangePasswordRefusals(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("auth", "accounts", "create", "carol", "--password", "carol-password-1")
	tests := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", nil, "Cannot ask for passwords: stdin is not a terminal. Use --password-stdin."},
		{"new-password-1\n", []string{"--password-stdin"}, "--password-stdin needs two lines: your current password, then the new one."},
		{platformtest.Password + "\n\n", []string{"--password-stdin"}, "--password-stdin needs two lines: your current password, then the new one."},
		{platformtest.Password + "\nshort\n", []string{"--password-stdin"}, "The new password must be at least 8 bytes."},
		{platformtest.Password + "\n" + platformtest.Password + "\n", []string{"--password-stdin"}, "The new password is the current one."},
		{"a\nb\n", []string{"carol", "--password-stdin"}, "--password-stdin needs one line: the new password."},
	}
	for _, tt := range tests {
		args := append([]string{"auth", "accounts", "password"}, tt.args...)
		if r := h.runIn(tt.stdin, args...); r.code != ExitUsage || strings.TrimSpace(r.stderr) != tt.want {
			t.Errorf("micro %s with stdin %q = exit %d, %q, want %d, %q", strings.Join(args, " "), tt.stdin, r.code, r.stderr, ExitUsage, tt.want)
		}
	}
}

// TestChangeAnotherAccountsPassword checks that an admin sets another
// account's password with the new one alone.
func TestChangeAnotherAccountsPassword(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("auth", "accounts", "create", "carol", "--password", "carol-password-1")
	r := h.runIn("carol-password-2\n", "auth", "accounts", "password", "carol", "--password-stdin")
	if want := "Changed the password of carol; its logins end when their access tokens expire.\n"; r.code != ExitOK || r.stdout != want {
		t.Fatalf("password carol = exit %d, %q (%q), want 0, %q", r.code, r.stdout, r.stderr, want)
	}
	if r := h.runIn("carol-password-2\n", "login", "--username", "carol", "--password-stdin"); r.code != ExitOK {
		t.Errorf("login as carol with her new password = exit %d (%q), want 0", r.code, r.stderr)
	}
}
