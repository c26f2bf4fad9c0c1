package command

import (
	"strings"
	"testing"
)

// TestAdminInvite adds an invite, adds it again, which is refused with the
// way to mail it again, resends it, lists and removes it, and removes it
// again, which is not found.
func TestAdminInvite(t *testing.T) {
	h := newHarness(t)
	h.login()
	if out := h.mustRun("admin", "invite", "add", "Ann@Example.com").stdout; out != "Invited ann@example.com, and mailed them how to sign up: 'micro signup --email ann@example.com'.\n" {
		t.Errorf("admin invite add = %q", out)
	}
	want := "ann@example.com is already invited; 'micro admin invite add ann@example.com --resend' mails the invitation again.\n"
	if r := h.run("admin", "invite", "add", "ann@example.com"); r.code != ExitError || r.stderr != want {
		t.Errorf("admin invite add (again) = exit %d, %q, want %d and %q", r.code, r.stderr, ExitError, want)
	}
	if out := h.mustRun("admin", "invite", "add", "ann@example.com", "--resend").stdout; !strings.HasPrefix(out, "Invited ann@example.com, and mailed them") {
		t.Errorf("admin invite add --resend = %q", out)
	}
	list := h.mustRun("admin", "invite", "list").stdout
	if !strings.HasPrefix(list, "EMAIL") || !strings.Contains(list, "ann@example.com") || !strings.Contains(list, "admin") {
		t.Errorf("admin invite list = %q, want ann@example.com invited by admin", list)
	}
	h.mustRun("admin", "invite", "remove", "ann@example.com")
	if r := h.run("admin", "invite", "remove", "ann@example.com"); r.code != ExitNotFound || !strings.Contains(r.stderr, "is not invited") {
		t.Errorf("admin invite remove (again) = exit %d, %q, want %d saying it is not invited", r.code, r.stderr, ExitNotFound)
	}
	if r := h.run("admin", "invite", "add"); r.code != ExitUsage {
		t.Errorf("admin invite add (no email) = exit %d, want %d", r.code, ExitUsage)
	}
}
