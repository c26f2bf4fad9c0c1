package session_test

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/envfile"
	"m3o.dev/cli/internal/platformtest"
	"m3o.dev/cli/internal/session"
	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// setup starts a platform and returns an env pointing at it and the store
// of a fresh home directory.
func setup(t *testing.T) (*platformtest.Platform, envfile.Env, *envfile.Store) {
	t.Helper()
	p := platformtest.Start(t)
	home := t.TempDir()
	env := envfile.Env{Name: "test", Address: p.Addr, CAFile: p.CAFile}
	return p, env, envfile.NewStore(home, []envfile.Env{env})
}

func dial(t *testing.T, env envfile.Env, store *envfile.Store) *session.Conn {
	t.Helper()
	conn, err := session.Dial(env, store)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", env.Address, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func list(t *testing.T, conn *session.Conn) error {
	t.Helper()
	_, err := storev1.NewStoreServiceClient(conn.Client()).List(t.Context(), &storev1.ListRequest{})
	return err
}

func TestNotLoggedInSendsNothing(t *testing.T) {
	p, env, store := setup(t)
	if err := list(t, dial(t, env, store)); !errors.Is(err, session.ErrNotLoggedIn) {
		t.Errorf("List() without a login = %v, want %v", err, session.ErrNotLoggedIn)
	}
	if calls := p.Calls(); len(calls) != 0 {
		t.Errorf("platform got %d calls without a login, want none", len(calls))
	}
}

func TestLoginThenCall(t *testing.T) {
	p, env, store := setup(t)
	conn := dial(t, env, store)
	s, err := conn.Login(t.Context(), platformtest.Namespace, platformtest.Username, platformtest.Password)
	if err != nil {
		t.Fatalf("Login() = %v", err)
	}
	if err := list(t, conn); err != nil {
		t.Fatalf("List() after login = %v", err)
	}
	calls := p.Calls()
	if got := calls[0].Authorization; got != "" {
		t.Errorf("Token call carried authorization %q, want none", got)
	}
	if got, want := calls[len(calls)-1].Authorization, "Bearer "+s.AccessToken; got != want {
		t.Errorf("List call carried authorization %q, want %q", got, want)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	_, env, store := setup(t)
	_, err := dial(t, env, store).Login(t.Context(), platformtest.Namespace, platformtest.Username, "wrong")
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("Login(wrong password) = %v, want code %s", err, codes.Unauthenticated)
	}
	f, _ := store.Load()
	if _, ok := f.Session(env.Name); ok {
		t.Errorf("a failed login saved a session")
	}
}

// TestConcurrentRefresh runs two connections, as two micro commands would,
// whose token needs refreshing at the same moment. The refresh token works
// once, so exactly one of them may spend it; both must succeed.
func TestConcurrentRefresh(t *testing.T) {
	p, env, store := setup(t)
	p.SetAccessTTL(10 * time.Second)
	if _, err := dial(t, env, store).Login(t.Context(), platformtest.Namespace, platformtest.Username, platformtest.Password); err != nil {
		t.Fatalf("Login() = %v", err)
	}
	p.SetAccessTTL(15 * time.Minute)
	conns := []*session.Conn{dial(t, env, store), dial(t, env, store)}
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Go(func() {
			if err := list(t, conn); err != nil {
				t.Errorf("List() = %v", err)
			}
		})
	}
	wg.Wait()
	if got := p.Refreshes(); got != 1 {
		t.Errorf("refreshes = %d, want 1", got)
	}
}

func TestTrust(t *testing.T) {
	p, env, store := setup(t)
	otherCA := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(otherCA, mtlstest.NewCA(t).CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     envfile.Env
		wantErr any
	}{
		{"foreign CA", envfile.Env{Name: "test", Address: p.Addr, CAFile: otherCA}, new(*session.CertificateError)},
		{"by host name", envfile.Env{Name: "test", Address: "localhost:" + port(t, p.Addr), CAFile: env.CAFile}, nil},
		{"missing CA file", envfile.Env{Name: "test", Address: p.Addr, CAFile: filepath.Join(t.TempDir(), "none.pem")}, new(*session.CAError)},
		{"CA file without PEM", envfile.Env{Name: "test", Address: p.Addr, CAFile: notPEM}, new(*session.CAError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loginTo(t, tt.env, store)
			if tt.wantErr == nil {
				// The test certificate names localhost as well as 127.0.0.1,
				// so dialling by that name must work.
				if err != nil {
					t.Errorf("Login(%s) = %v, want success", tt.env.Address, err)
				}
				return
			}
			if !errors.As(err, tt.wantErr) {
				t.Errorf("Login(%s, CA %s) = %v, want %T", tt.env.Address, tt.env.CAFile, err, tt.wantErr)
			}
		})
	}
}

func TestCAErrorKeepsCause(t *testing.T) {
	_, env, store := setup(t)
	env.CAFile = filepath.Join(t.TempDir(), "none.pem")
	_, err := session.Dial(env, store)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dial(missing CA) = %v, want it to wrap %v", err, fs.ErrNotExist)
	}
}

func loginTo(t *testing.T, env envfile.Env, store *envfile.Store) error {
	t.Helper()
	conn, err := session.Dial(env, store)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Login(t.Context(), platformtest.Namespace, platformtest.Username, platformtest.Password)
	return err
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("SplitHostPort(%q) = %v", addr, err)
	}
	return p
}
