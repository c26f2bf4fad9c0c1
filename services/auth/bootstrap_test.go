package auth_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/internal/statustest"
)

func TestBootstrapWithPassword(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	if !slices.Contains(admin.account.GetRoles(), "admin") || admin.account.GetNamespace() != "micro" {
		t.Errorf("bootstrap admin = %v, want role admin in micro", admin.account)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.DataDir, auth.AdminPasswordFile)); !os.IsNotExist(err) {
		t.Errorf("admin password file with MICRO_ADMIN_PASSWORD set: Stat() = %v, want it absent", err)
	}

	// A restart with another password changes nothing.
	e.cfg.AdminPassword = "another-password"
	e.start(t)
	c = e.dial(t, "micro", "proxy")
	login(t, c, "", "admin", adminPassword)
	_, err := c.auth.Token(t.Context(), &authv1.TokenRequest{Id: "admin", Secret: "another-password"})
	statustest.WantCode(t, "Token(password given at restart)", err, codes.Unauthenticated)
}

func TestBootstrapGenerated(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminPassword = ""
	e := &env{ca: mtlstest.NewCA(t), cfg: cfg, clock: newClock()}
	e.storeAddr = e.serveStore(t)

	var out bytes.Buffer
	start := func() *auth.Service {
		t.Helper()
		bundle := mtlstest.Bundle(t, e.ca, "micro", "auth")
		conn, err := grpcclient.Dial(e.storeAddr, bundle, mtls.Identity{Namespace: "micro", Service: "store"})
		if err != nil {
			t.Fatalf("Dial(store) = %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		svc, err := auth.New(t.Context(), cfg, auth.Deps{Store: storev1.NewStoreServiceClient(conn), Logger: slog.New(slog.DiscardHandler), Out: &out})
		if err != nil {
			t.Fatalf("auth.New() = %v", err)
		}
		e.svc, e.addr = svc, serve(t, authServer(svc, bundle))
		return svc
	}
	start()
	path := filepath.Join(cfg.DataDir, auth.AdminPasswordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile(admin password) = %v", err)
	}
	password := strings.TrimSpace(string(data))
	if len(password) < 16 || !strings.Contains(out.String(), password) {
		t.Fatalf("printed %q, file holds %q: want one strong password in both", out.String(), password)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin password file mode = %v, %v, want 0600", fi.Mode().Perm(), err)
	}
	login(t, e.dial(t, "micro", "proxy"), "", "admin", password)

	out.Reset()
	start()
	if out.Len() != 0 {
		t.Errorf("restart printed %q, want nothing", out.String())
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Errorf("admin password file after restart = %q, want it unchanged", again)
	}
	login(t, e.dial(t, "micro", "proxy"), "", "admin", password)
}
