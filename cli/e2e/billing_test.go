package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tenantWithSubscription makes the namespace ns billed with an account
// owner in it (roles admin and developer) and logs the CLI in as owner; the
// env 'test' must be the current one, logged in as micro's admin.
func tenantWithSubscription(t *testing.T, p *platform, ns, owner string) {
	t.Helper()
	p.must("auth", "accounts", "create", owner, "--namespace", ns, "--password", "owner-password-1", "--roles", "admin,developer")
	p.must("admin", "billing", "status", ns, "--set", "active")
	login(t, p, ns, owner, "owner-password-1")
}

// TestBillingGate is the payment gate end to end with --payment-grace 0:
// a billed namespace works while active; past due, its store read exits 4
// with the one payment sentence while billing stays reachable; active
// again, it works. Its tenant cannot cancel what an admin set by hand. The
// delay until the refusal is logged.
func TestBillingGate(t *testing.T) {
	p := newPlatform(t, "--payment-grace", "0")
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	tenantWithSubscription(t, p, "paying-ns", "owner")
	p.must("store", "write", "greeting", "hello")
	if out := p.must("billing", "status"); !strings.Contains(out, "$35.00/month") || !strings.Contains(out, "active") {
		t.Errorf("billing status = %q, want the developer plan, active", out)
	}
	if out := p.must("billing", "portal"); !strings.Contains(out, "http://"+p.httpAddr+"/subscribe?session=") {
		t.Errorf("billing portal = %q, want the platform's own subscribe page", out)
	}

	asAdmin(t, p, "admin", "billing", "status", "paying-ns", "--set", "past_due")
	start := time.Now()
	want := "Payment required in env 'test': the subscription of namespace 'paying-ns' is past due; run 'micro billing portal' to pay."
	r := waitForExit(t, p, exitDenied, 2*time.Minute, "store", "read", "greeting")
	t.Logf("gating delay through the CLI: %s after --set past_due returned", time.Since(start))
	if strings.TrimSpace(r.stderr) != want {
		t.Errorf("store read while past due: stderr = %q, want %q", r.stderr, want)
	}
	p.must("billing", "status")

	asAdmin(t, p, "admin", "billing", "status", "paying-ns", "--set", "active")
	waitForExit(t, p, 0, 2*time.Minute, "store", "read", "greeting")
	want = "Env 'test' refused the request for namespace 'paying-ns': subscription of namespace \"paying-ns\" was set by hand by the platform's admins, and only they change it.\n"
	if r := p.exits(1, "billing", "cancel"); r.stderr != want {
		t.Errorf("billing cancel of a subscription set by hand: stderr = %q, want %q", r.stderr, want)
	}
}

// TestDeveloperOfAnAdminsNamespace checks what a developer sees in a
// namespace an admin made: its empty lists say so, billing status says
// there is nothing to pay, and config history names the developer's own
// changes by the account's name, though a developer may not list the
// namespace's accounts.
func TestDeveloperOfAnAdminsNamespace(t *testing.T) {
	p := newPlatform(t)
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	p.must("auth", "accounts", "create", "dev", "--namespace", "free-ns", "--password", "dev-password-1", "--roles", "developer")
	login(t, p, "free-ns", "dev", "dev-password-1")
	emptyListsSaySo(t, p)
	want := "Namespace 'free-ns' has no subscription and nothing to pay: an admin made it, not a sign-up, and billing never stops its services.\n"
	if out := p.must("billing", "status"); out != want {
		t.Errorf("billing status = %q, want %q", out, want)
	}
	if out := p.must("billing", "status", "-o", "json"); out != "{\n  \"exempt\": true,\n  \"namespace\": \"free-ns\"\n}\n" {
		t.Errorf("billing status -o json = %q, want exempt and the namespace", out)
	}
	p.exits(exitDenied, "auth", "accounts", "list")
	p.must("config", "set", "greeting", "hi")
	if out := p.must("config", "history"); !regexp.MustCompile(`(?m)^1 +\S+ \S+ +dev +set +greeting$`).MatchString(out) {
		t.Errorf("config history = %q, want the change by dev", out)
	}
}

// emptyListsSaySo checks that the lists of the new namespace free-ns, with
// nothing in them yet, say so on stderr.
func emptyListsSaySo(t *testing.T, p *platform) {
	t.Helper()
	tests := []struct {
		args []string
		note string
	}{
		{[]string{"services"}, "No services registered in namespace 'free-ns'. 'micro run FOLDER' runs one.\n"},
		{[]string{"store", "databases"}, "No databases yet: the first 'micro store write' makes one named after your namespace.\n"},
		{[]string{"store", "tables"}, "No tables in database 'free-ns' yet: the first 'micro store write' to one makes it.\n"},
		{[]string{"config", "history"}, "No changes to the config yet.\n"},
	}
	for _, tt := range tests {
		if r := p.micro("", tt.args...); r.code != 0 || r.stderr != tt.note {
			t.Errorf("micro %s in a new namespace = exit %d, stderr %q, want 0, %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.note)
		}
	}
}

// TestBillingGraceWarns checks that within the grace period a past-due
// namespace works and the CLI warns on stderr.
func TestBillingGraceWarns(t *testing.T) {
	p := newPlatform(t, "--payment-grace", "1h")
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	tenantWithSubscription(t, p, "late-ns", "owner")
	asAdmin(t, p, "admin", "billing", "status", "late-ns", "--set", "past_due")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := p.micro("", "store", "write", "k", "v")
		if r.code != 0 {
			t.Fatalf("store write in grace = exit %d, want 0\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "Warning: ") && strings.Contains(r.stderr, "micro billing portal") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no payment warning on stderr after 2 minutes; last stderr %q", r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// asAdmin runs a command as micro's admin through a second env, leaving
// the tenant's login in place.
func asAdmin(t *testing.T, p *platform, args ...string) string {
	t.Helper()
	if r := p.micro("", "env", "add", "admin", p.grpcAddr, "--ca-file", filepath.Join(p.dataDir, "ca.pem")); r.code == 0 {
		r := p.micro(adminPassword+"\n", "--env", "admin", "login", "--namespace", "micro", "--username", "admin", "--password-stdin")
		if r.code != 0 {
			t.Fatalf("admin login = exit %d: %s", r.code, r.stderr)
		}
	}
	return p.must(append([]string{"--env", "admin"}, args...)...)
}

// waitForExit runs a command until it exits with code, within timeout:
// the proxy learns billing changes by a watch, so a change takes a moment.
func waitForExit(t *testing.T, p *platform, code int, timeout time.Duration, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := p.micro("", args...)
		if r.code == code {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("micro %s = exit %d after %s, want %d\n%s", strings.Join(args, " "), r.code, timeout, code, fmt.Sprint(r.stderr))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
