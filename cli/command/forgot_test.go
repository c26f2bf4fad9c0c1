package command

import (
	"strings"
	"testing"

	"m3o.dev/cli/internal/platformtest"
)

// TestForgotPassword runs the scripted reset: the first run has a code
// mailed and says how to go on; the second sets the new password with the
// code and logs in.
func TestForgotPassword(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("auth", "accounts", "create", "ann@example.com", "--password", "ann-password-1")
	h.mustRun("logout")

	r := h.mustRun("login", "--forgot-password", "--username", "ann@example.com")
	if want := "Then run, with the new password on stdin: micro login --forgot-password --username ann@example.com --code CODE --password-stdin\n"; !strings.HasSuffix(r.stdout, want) {
		t.Errorf("login --forgot-password = %q, want it to end with %q", r.stdout, want)
	}
	r = h.runIn("ann-password-2\n", "login", "--forgot-password", "--username", "ann@example.com", "--code", "13572468", "--password-stdin")
	if r.code != ExitUnauthenticated || !strings.Contains(r.stderr, "The code is wrong or has expired") {
		t.Errorf("login --forgot-password with a wrong code = exit %d, %q, want %d and the code refused", r.code, r.stderr, ExitUnauthenticated)
	}
	r = h.runIn("ann-password-2\n", "login", "--forgot-password", "--username", "ann@example.com", "--code", platformtest.ResetCode, "--password-stdin")
	if want := "Reset the password of ann@example.com and logged in to env 'test' (" + h.p.Addr + ") in namespace 'micro'.\n"; r.code != ExitOK || r.stdout != want {
		t.Fatalf("login --forgot-password --code = exit %d, %q (%q), want 0, %q", r.code, r.stdout, r.stderr, want)
	}
	if s, ok := h.session("test"); !ok || s.Account != "ann@example.com" {
		t.Errorf("session after the reset = %+v, %v, want ann@example.com's", s, ok)
	}
	h.mustRun("store", "databases")
	if r := h.runIn("ann-password-2\n", "login", "--username", "ann@example.com", "--password-stdin"); r.code != ExitOK {
		t.Errorf("login with the new password = exit %d (%q), want 0", r.code, r.stderr)
	}
}

// TestForgotPasswordRefusals checks what is refused before anything is
// sent, and that a wrong password by email points to --forgot-password.
func TestForgotPasswordRefusals(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"--forgot-password", "--username", "admin"}, "--forgot-password needs the email that names your account as --username; an account named otherwise asks an admin of its namespace for a new password."},
		{"", []string{"--forgot-password", "--username", "ann@example.com", "--password", "x"}, "--forgot-password sets a new password: give it on a terminal or on stdin with --password-stdin, not with --password."},
		{"", []string{"--username", "ann@example.com", "--code", platformtest.ResetCode}, "--code goes with --forgot-password."},
		{"short\n", []string{"--forgot-password", "--username", "ann@example.com", "--code", platformtest.ResetCode, "--password-stdin"}, "The password must be at least 8 bytes."},
		{"", []string{"--forgot-password", "--username", "ann@example.com", "--code", platformtest.ResetCode}, "Cannot ask for a password: stdin is not a terminal. Use --password-stdin."},
	}
	for _, tt := range tests {
		args := append([]string{"login"}, tt.args...)
		if r := h.runIn(tt.stdin, args...); r.code != ExitUsage || strings.TrimSpace(r.stderr) != tt.want {
			t.Errorf("micro %s = exit %d, %q, want %d, %q", strings.Join(args, " "), r.code, r.stderr, ExitUsage, tt.want)
		}
	}
	r := h.runIn("wrong-password\n", "login", "--username", "ann@example.com", "--password-stdin")
	if want := "Forgot it? 'micro login --forgot-password --username ann@example.com' mails a code to reset it."; r.code != ExitUnauthenticated || !strings.Contains(r.stderr, want) {
		t.Errorf("login with a wrong password = exit %d, %q, want %d and %q", r.code, r.stderr, ExitUnauthenticated, want)
	}
}
