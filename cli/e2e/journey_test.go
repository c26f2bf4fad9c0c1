package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Exit codes the CLI documents.
const (
	exitNotLoggedIn = 3
	exitDenied      = 4
	exitNotFound    = 5
)

func TestLocalJourneyPebble(t *testing.T) {
	runJourney(t, newPlatform(t))
}

func TestLocalJourneyCockroach(t *testing.T) {
	dsn := freshDatabase(t)
	runJourney(t, newPlatform(t, "--store", "cockroach", "--store-dsn", dsn))
}

// runJourney is DESIGN's first journey, plus a second tenant and a restart.
func runJourney(t *testing.T, p *platform) {
	p.start()
	p.useTestEnv()

	notLoggedIn := fmt.Sprintf("Not logged in to env 'test' (%s). Run 'micro login'.", p.grpcAddr)
	r := p.exits(exitNotLoggedIn, "store", "read", "greeting")
	if strings.TrimSpace(r.stderr) != notLoggedIn {
		t.Errorf("store read before login: stderr = %q, want %q", r.stderr, notLoggedIn)
	}

	login(t, p, "micro", "admin", adminPassword)
	if out := p.must("whoami"); !strings.Contains(out, "admin") || !strings.Contains(out, "micro") {
		t.Errorf("whoami = %q, want the admin account in namespace micro", out)
	}

	t.Run("store", func(t *testing.T) { storeSteps(t, p) })
	t.Run("config", func(t *testing.T) { configSteps(t, p) })
	t.Run("services", func(t *testing.T) {
		if out := p.must("services"); !strings.Contains(out, "m3o.store") && !strings.Contains(out, "store") {
			t.Errorf("services = %q, want the core services listed", out)
		}
	})
	t.Run("second tenant", func(t *testing.T) { tenantSteps(t, p) })
	t.Run("weak password", func(t *testing.T) {
		r := p.exits(1, "auth", "accounts", "create", "weak@example.com", "--password", "Password123")
		if !strings.Contains(r.stderr, "commonest passwords") || strings.Count(r.stderr, "secret:") != 1 {
			t.Errorf("create with a common password: stderr = %q, want it refused once, as one of the commonest", r.stderr)
		}
	})

	p.must("logout")
	r = p.exits(exitNotLoggedIn, "store", "read", "greeting")
	if strings.TrimSpace(r.stderr) != notLoggedIn {
		t.Errorf("store read after logout: stderr = %q, want %q", r.stderr, notLoggedIn)
	}

	p.stop()
	p.start()
	login(t, p, "micro", "admin", adminPassword)
	if out := p.must("store", "read", "greeting"); strings.TrimSpace(out) != "hello world" {
		t.Errorf("store read after restart = %q, want %q", out, "hello world")
	}
	if out := p.must("config", "get", "db.user"); !strings.Contains(out, "ann") {
		t.Errorf("config get after restart = %q, want it to contain %q", out, "ann")
	}
}

func login(t *testing.T, p *platform, namespace, name, password string) {
	t.Helper()
	r := p.micro(password+"\n", "login", "--namespace", namespace, "--username", name, "--password-stdin")
	if r.code != 0 {
		t.Fatalf("login %s/%s = exit %d\nstdout: %s\nstderr: %s", namespace, name, r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Errorf("login printed the password")
	}
}

func storeSteps(t *testing.T, p *platform) {
	p.must("store", "write", "greeting", "hello world")
	if out := p.must("store", "read", "greeting"); strings.TrimSpace(out) != "hello world" {
		t.Errorf("store read greeting = %q, want %q", out, "hello world")
	}
	p.must("store", "write", "user/ann", "1", "--ttl", "1h")
	p.must("store", "write", "user/bob", "2", "--ttl", "1h")
	p.must("store", "write", "other", "3")
	out := p.must("store", "read", "user/", "--prefix")
	if !strings.Contains(out, "user/ann") || !strings.Contains(out, "user/bob") || strings.Contains(out, "other") {
		t.Errorf("store read user/ --prefix = %q, want user/ann and user/bob only", out)
	}
	out = p.must("store", "list", "--prefix", "user/")
	if !strings.Contains(out, "user/ann") || strings.Contains(out, "other") {
		t.Errorf("store list --prefix user/ = %q, want user/ keys only", out)
	}
	p.must("store", "delete", "other")
	p.exits(exitNotFound, "store", "read", "other")
}

func configSteps(t *testing.T, p *platform) {
	p.must("config", "set", "db.user", "ann")
	if out := p.must("config", "get", "db.user"); !strings.Contains(out, "ann") {
		t.Errorf("config get db.user = %q, want it to contain %q", out, "ann")
	}
	p.must("config", "set", "db.password", "s3cret-value", "--secret")
	if out := p.must("config", "get", "db.password"); strings.Contains(out, "s3cret-value") || !strings.Contains(out, "[secret]") {
		t.Errorf("config get db.password = %q, want it masked as [secret]", out)
	}
	if out := p.must("config", "get", "db.password", "--secret"); !strings.Contains(out, "s3cret-value") {
		t.Errorf("config get db.password --secret = %q, want the plaintext", out)
	}
	p.must("config", "set", "db.user", "bea")
	history := p.must("config", "history")
	if strings.Contains(history, "s3cret-value") {
		t.Errorf("config history shows a secret: %q", history)
	}
	versions := regexp.MustCompile(`(?m)^\s*(\d+)\s`).FindAllStringSubmatch(history, -1)
	if len(versions) < 3 {
		t.Fatalf("config history = %q, want at least 3 versions", history)
	}
	// Roll back to the version before db.user became "bea".
	p.must("config", "rollback", versions[1][1])
	if out := p.must("config", "get", "db.user"); !strings.Contains(out, "ann") {
		t.Errorf("config get db.user after rollback = %q, want %q", out, "ann")
	}
}

// tenantSteps creates a second namespace's account and shows it can read
// nothing of the first.
func tenantSteps(t *testing.T, p *platform) {
	p.must("auth", "accounts", "create", "bob@example.com", "--namespace", "brave-otter-lamp", "--password", "bobs-password-1")
	login(t, p, "brave-otter-lamp", "bob@example.com", "bobs-password-1")
	defer login(t, p, "micro", "admin", adminPassword)

	p.must("store", "write", "mine", "bob's value")
	if out := p.must("store", "read", "mine"); strings.TrimSpace(out) != "bob's value" {
		t.Errorf("tenant store read = %q, want its own value", out)
	}
	for _, args := range [][]string{
		{"store", "read", "greeting", "--database", "micro"},
		{"store", "list", "--database", "micro"},
		{"config", "get", "db.user", "--namespace", "micro"},
	} {
		r := p.exits(exitDenied, args...)
		if strings.Contains(r.stdout, "hello world") || strings.Contains(r.stdout, "ann") {
			t.Errorf("micro %s as a tenant printed the other namespace's data: %q", strings.Join(args, " "), r.stdout)
		}
	}
	p.exits(exitNotFound, "store", "read", "greeting")
}

// freshDatabase creates an empty PostgreSQL database for one journey on the
// server 'make test' started.
func freshDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("MICRO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Fatal("MICRO_TEST_POSTGRES_DSN is not set: run the tests with 'make test', which starts PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("journey_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(dsn, "/"+cfg.Database+"?", "/"+name+"?", 1)
}
