package e2e

import (
	"regexp"
	"strings"
	"testing"

	"m3o.dev/services/smtptest"
)

// resetCodePattern finds the code in a password reset email.
var resetCodePattern = regexp.MustCompile(`password reset code is (\d{8})`)

// TestForgotPassword resets a forgotten password on micro server as its
// user would: a wrong password points to --forgot-password, which mails a
// code through a real SMTP server; with the code and a new password the
// CLI logs in, and only the new password works after.
func TestForgotPassword(t *testing.T) {
	mailbox := smtptest.Start(t)
	p := newPlatform(t, "--smtp-address", mailbox.Addr, "--smtp-from", "signup@m3o.test")
	p.serverEnv = smtpEnv(t, mailbox)
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	const email = "ann@example.com"
	p.must("auth", "accounts", "create", email, "--namespace", "team-ns", "--password", "ann-password-1", "--roles", "developer")
	p.must("logout")

	r := p.micro("ann-password-0\n", "login", "--username", email, "--password-stdin")
	if r.code != exitNotLoggedIn || !strings.Contains(r.stderr, "'micro login --forgot-password --username "+email+"'") {
		t.Errorf("login with a wrong password = exit %d, %q, want %d and the way to reset it", r.code, r.stderr, exitNotLoggedIn)
	}
	if out := p.must("login", "--forgot-password", "--username", email); !strings.Contains(out, "--code CODE --password-stdin") {
		t.Errorf("login --forgot-password = %q, want how to go on", out)
	}
	_, m := mailbox.WaitForMatch(t, email, resetCodePattern)
	r = p.micro("ann-password-2\n", "login", "--forgot-password", "--username", email, "--code", m[1], "--password-stdin")
	if want := "Reset the password of " + email + " and logged in to env 'test' (" + p.grpcAddr + ") in namespace 'team-ns'.\n"; r.code != 0 || r.stdout != want {
		t.Fatalf("login --forgot-password --code = exit %d, %q (%q), want 0, %q", r.code, r.stdout, r.stderr, want)
	}
	p.must("store", "write", "greeting", "hello")
	wantLogin(t, p, email, "ann-password-1", exitNotLoggedIn)
	wantLogin(t, p, email, "ann-password-2", 0)
}
