package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/mail"
	"m3o.dev/services/smtptest"
)

// TestRun runs the auth binary's command over a real store, with the admin
// password from the environment, and logs the admin in.
func TestRun(t *testing.T) {
	p := coretest.New(t, platform.Store)
	p.ServeStore(t)
	t.Setenv("MICRO_ADMIN_PASSWORD", "admin-password-123")
	t.Setenv(kekEnv, newKEK())
	args := append(corekittest.CertFlags(t, p.CA, "auth"), "--data-dir", t.TempDir(), "--store-address", p.Addr(platform.Store))
	auth := corekittest.Start(t, newApp(), args...)

	conn := p.Dial(t, auth.Address, "micro", "proxy", coretest.Core("auth"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	resp, err := authv1.NewAuthServiceClient(conn).Token(ctx,
		&authv1.TokenRequest{Id: "admin", Secret: "admin-password-123"}, grpc.WaitForReady(true))
	if err != nil || resp.GetToken().GetAccessToken() == "" {
		t.Fatalf("Token(admin) = %v, want tokens", err)
	}
}

// TestEnvironmentConfigures checks that every flag also reads
// MICRO_AUTH_<FLAG>.
func TestEnvironmentConfigures(t *testing.T) {
	p := coretest.New(t, platform.Store)
	p.ServeStore(t)
	t.Setenv("MICRO_AUTH_STORE_ADDRESS", p.Addr(platform.Store))
	t.Setenv("MICRO_AUTH_DATA_DIR", t.TempDir())
	t.Setenv("MICRO_AUTH_KEY_ENCRYPTION_KEY_FILE", kekFile(t, 0o600))
	auth := corekittest.Start(t, newApp(), corekittest.CertFlags(t, p.CA, "auth")...)
	if auth.Address == "" {
		t.Fatal("auth configured from the environment reported no address")
	}
}

// newKEK returns a new key-encryption key as base64.
func newKEK() string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
}

// kekFile writes a key-encryption key to a file of mode perm.
func kekFile(t *testing.T, perm os.FileMode) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(file, []byte(newKEK()+"\n"), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, perm); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestKeyEncryptionKeyRequired checks that auth refuses to start without
// a usable key-encryption key, and says how to give one.
func TestKeyEncryptionKeyRequired(t *testing.T) {
	p := coretest.New(t, platform.Store)
	p.ServeStore(t)
	base := append(corekittest.CertFlags(t, p.CA, "auth"), "--data-dir", t.TempDir(), "--store-address", p.Addr(platform.Store))
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"none", nil, "", "--key-encryption-key-file or set " + kekEnv},
		{"both", []string{"--key-encryption-key-file", kekFile(t, 0o600)}, newKEK(), "not both"},
		{"file open to every user", []string{"--key-encryption-key-file", kekFile(t, 0o644)}, "", "chmod 600"},
		{"not base64", nil, "not a key!", "not base64"},
		{"wrong size", nil, base64.StdEncoding.EncodeToString([]byte("short")), "want 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(kekEnv, tt.env)
			err := corekittest.Fails(t, newApp(), append(base, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("auth without a usable key-encryption key = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestLoadKEKSources checks that the key is taken from exactly one place.
func TestLoadKEKSources(t *testing.T) {
	_, err := loadKEK("", "")
	if !errors.Is(err, corekit.ErrConfig) {
		t.Errorf("loadKEK(no file, no env) = %v, want a configuration error", err)
	}
	if _, err := loadKEK(kekFile(t, 0o600), ""); err != nil {
		t.Errorf("loadKEK(file) = %v", err)
	}
	if _, err := loadKEK("", newKEK()); err != nil {
		t.Errorf("loadKEK(env) = %v", err)
	}
}

// TestSignupMail runs the auth binary with billing and asks for a sign-up
// code for an invited email: through the SMTP server that --smtp-address
// names, with the credentials from the environment and its certificate
// trusted through MICRO_SMTP_CA_FILE; and, without --smtp-address, into the
// outbox under the data dir. The invitation before it names
// --public-address.
func TestSignupMail(t *testing.T) {
	tests := []struct {
		name    string
		smtp    bool
		arrived func(t *testing.T, srv *smtptest.Server, dataDir string)
	}{
		{"smtp", true, func(t *testing.T, srv *smtptest.Server, _ string) {
			if m, _ := srv.WaitForMatch(t, "ann@example.com", regexp.MustCompile("sign-up code is")); !m.TLS {
				t.Errorf("message = %q (TLS %v), want the code over TLS", m.Text(), m.TLS)
			}
			if inv, _ := srv.WaitForMatch(t, "ann@example.com", regexp.MustCompile("invited you")); !strings.Contains(inv.Text(), "micro env add m3o m3o.example.com:8081\n") {
				t.Errorf("the invitation reads %q, want the --public-address in its steps", inv.Text())
			}
		}},
		{"outbox", false, func(t *testing.T, _ *smtptest.Server, dataDir string) {
			coretest.Eventually(t, "the code in the outbox", func() error {
				files, _ := filepath.Glob(filepath.Join(dataDir, "outbox", "*-ann@example.com.eml"))
				for _, f := range files {
					if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), "sign-up code is") {
						return nil
					}
				}
				return fmt.Errorf("outbox holds %v", files)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, dataDir := smtptest.Start(t), t.TempDir()
			p := coretest.New(t, platform.Store, platform.Billing)
			p.ServeStore(t)
			p.ServeBilling(t, local.New(), "https://m3o.test")
			t.Setenv("MICRO_ADMIN_PASSWORD", "admin-password-123")
			t.Setenv(kekEnv, newKEK())
			args := append(corekittest.CertFlags(t, p.CA, "auth"), "--data-dir", dataDir,
				"--store-address", p.Addr(platform.Store), "--billing-address", p.Addr(platform.Billing))
			if tt.smtp {
				args = append(args, smtpArgs(t, srv)...)
				args = append(args, "--public-address", "m3o.example.com:8081")
			}
			askForCode(t, p, corekittest.Start(t, newApp(), args...).Address, "ann@example.com")
			tt.arrived(t, srv, dataDir)
		})
	}
}

// smtpArgs are the flags and environment that send through srv.
func smtpArgs(t *testing.T, srv *smtptest.Server) []string {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(smtpCAEnv, caFile)
	t.Setenv(mail.UsernameEnv, smtptest.Username)
	t.Setenv(mail.PasswordEnv, smtptest.Password)
	return []string{"--smtp-address", srv.Addr, "--smtp-from", "signup@m3o.test"}
}

// askForCode invites email as the admin of the auth service at addr and
// asks for its sign-up code, as the proxy relays it.
func askForCode(t *testing.T, p *coretest.Platform, addr, email string) {
	t.Helper()
	conn := p.Dial(t, addr, "micro", "proxy", coretest.Core("auth"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	resp, err := authv1.NewAuthServiceClient(conn).Token(ctx, &authv1.TokenRequest{Id: "admin", Secret: "admin-password-123"}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("Token(admin) = %v", err)
	}
	admin := identity.WithBearer(ctx, resp.GetToken().GetAccessToken())
	if _, err := authv1.NewInviteServiceClient(conn).Add(admin, &authv1.InviteServiceAddRequest{Email: email}); err != nil {
		t.Fatalf("Invite.Add(%s) = %v", email, err)
	}
	if _, err := authv1.NewSignupServiceClient(conn).SendVerificationEmail(ctx, &authv1.SendVerificationEmailRequest{Email: email}); err != nil {
		t.Fatalf("SendVerificationEmail(%s) = %v", email, err)
	}
}
