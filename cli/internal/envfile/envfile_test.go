package envfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"m3o.dev/cli/internal/envfile"
)

func newStore(t *testing.T) (*envfile.Store, string) {
	t.Helper()
	home := t.TempDir()
	return envfile.NewStore(home, envfile.Builtins(home, "api.example.com:443")), home
}

func TestBuiltins(t *testing.T) {
	s, home := newStore(t)
	f, err := s.Load()
	if err != nil {
		t.Fatalf("Load() = %v, want an empty file", err)
	}
	tests := []struct {
		name, address, caFile string
	}{
		{envfile.Local, "127.0.0.1:8081", filepath.Join(home, ".micro", "server", "ca.pem")},
		{envfile.Platform, "api.example.com:443", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := f.Env(tt.name)
			if err != nil {
				t.Fatalf("Env(%q) = %v, want the built-in env", tt.name, err)
			}
			if env.Address != tt.address || env.CAFile != tt.caFile || !env.Builtin {
				t.Errorf("Env(%q) = %+v, want address %s, CA %q, built in", tt.name, env, tt.address, tt.caFile)
			}
		})
	}
	if got := f.CurrentName(); got != envfile.Local {
		t.Errorf("CurrentName() = %q, want %q", got, envfile.Local)
	}
}

func TestFileChanges(t *testing.T) {
	tests := []struct {
		name    string
		change  func(f *envfile.File) error
		wantErr error
	}{
		{"add", func(f *envfile.File) error { return f.Add(envfile.Env{Name: "staging", Address: "h:1"}) }, nil},
		{"add twice", func(f *envfile.File) error {
			_ = f.Add(envfile.Env{Name: "staging", Address: "h:1"})
			return f.Add(envfile.Env{Name: "staging", Address: "h:2"})
		}, envfile.ErrEnvExists},
		{"add over a built-in", func(f *envfile.File) error { return f.Add(envfile.Env{Name: "local", Address: "h:1"}) }, envfile.ErrEnvExists},
		{"add bad name", func(f *envfile.File) error { return f.Add(envfile.Env{Name: "Staging", Address: "h:1"}) }, envfile.ErrInvalid},
		{"add no port", func(f *envfile.File) error { return f.Add(envfile.Env{Name: "staging", Address: "h"}) }, envfile.ErrInvalid},
		{"add port out of range", func(f *envfile.File) error { return f.Add(envfile.Env{Name: "staging", Address: "h:70000"}) }, envfile.ErrInvalid},
		{"delete built-in", func(f *envfile.File) error { return f.Delete(envfile.Local) }, envfile.ErrBuiltin},
		{"delete unknown", func(f *envfile.File) error { return f.Delete("nope") }, envfile.ErrUnknownEnv},
		{"use unknown", func(f *envfile.File) error { return f.Use("nope") }, envfile.ErrUnknownEnv},
		{"use platform", func(f *envfile.File) error { return f.Use(envfile.Platform) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			f, _ := s.Load()
			if err := tt.change(f); !errors.Is(err, tt.wantErr) {
				t.Errorf("change = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDeleteCurrentFallsBackToLocal(t *testing.T) {
	s, _ := newStore(t)
	err := s.Update(func(f *envfile.File) error {
		if err := f.Add(envfile.Env{Name: "staging", Address: "h:1"}); err != nil {
			return err
		}
		f.SetSession("staging", envfile.Session{Account: "ann", AccessToken: "a"})
		return f.Use("staging")
	})
	if err != nil {
		t.Fatalf("Update() = %v", err)
	}
	if err := s.Update(func(f *envfile.File) error { return f.Delete("staging") }); err != nil {
		t.Fatalf("Delete(staging) = %v", err)
	}
	f, _ := s.Load()
	if got := f.CurrentName(); got != envfile.Local {
		t.Errorf("CurrentName() after deleting the current env = %q, want %q", got, envfile.Local)
	}
	if _, ok := f.Session("staging"); ok {
		t.Errorf("Session(staging) after Delete = present, want gone")
	}
}

func TestUpdateWritesPrivateFile(t *testing.T) {
	s, home := newStore(t)
	err := s.Update(func(f *envfile.File) error {
		f.SetSession(envfile.Local, envfile.Session{Account: "admin", Namespace: "micro", AccessToken: "a", RefreshToken: "r"})
		return nil
	})
	if err != nil {
		t.Fatalf("Update() = %v", err)
	}
	assertMode(t, filepath.Join(home, ".micro"), 0o700)
	assertMode(t, s.Path(), 0o600)
	entries, _ := os.ReadDir(filepath.Join(home, ".micro"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// The lock file stays: removing a file others may be waiting to lock
	// would let two holders in at once.
	if !slices.Equal(names, []string{"config.json", "config.json.lock"}) {
		t.Errorf("~/.micro holds %v, want only config.json and its lock (no temporary file left)", names)
	}
	assertMode(t, filepath.Join(home, ".micro", "config.json.lock"), 0o600)
	f, err := s.Load()
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if got, ok := f.Session(envfile.Local); !ok || got.RefreshToken != "r" {
		t.Errorf("Session(local) = %+v, %v, want the saved session", got, ok)
	}
}

func TestLoadTightensModes(t *testing.T) {
	s, home := newStore(t)
	if err := s.Update(func(*envfile.File) error { return nil }); err != nil {
		t.Fatalf("Update() = %v", err)
	}
	dir := filepath.Join(home, ".micro")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, s.Path(), 0o600)
}

func TestUpdateFailureSavesNothing(t *testing.T) {
	s, _ := newStore(t)
	boom := errors.New("boom")
	err := s.Update(func(f *envfile.File) error {
		f.Current = envfile.Platform
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update() = %v, want %v", err, boom)
	}
	f, _ := s.Load()
	if got := f.CurrentName(); got != envfile.Local {
		t.Errorf("CurrentName() after a failed Update = %q, want %q", got, envfile.Local)
	}
}

func TestLoadCorrupt(t *testing.T) {
	s, _ := newStore(t)
	if err := os.MkdirAll(filepath.Dir(s.Path()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, envfile.ErrCorrupt) {
		t.Errorf("Load() of a corrupt file = %v, want %v", err, envfile.ErrCorrupt)
	}
}

// TestUpdateSerializes runs many updates at once; each must see the others'
// changes, as two micro commands refreshing tokens at once must.
func TestUpdateSerializes(t *testing.T) {
	s, _ := newStore(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.Update(func(f *envfile.File) error {
				f.SetSession(fmt.Sprintf("env-%d", i), envfile.Session{AccessToken: "a"})
				return nil
			})
			if err != nil {
				t.Errorf("Update() = %v", err)
			}
		})
	}
	wg.Wait()
	f, _ := s.Load()
	if got := len(f.Sessions); got != n {
		t.Errorf("sessions after %d concurrent updates = %d, want %d", n, got, n)
	}
}

func TestNeedsRefresh(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		session envfile.Session
		want    bool
	}{
		{"fresh", envfile.Session{RefreshToken: "r", Expiry: now.Add(10 * time.Minute)}, false},
		{"inside the margin", envfile.Session{RefreshToken: "r", Expiry: now.Add(30 * time.Second)}, true},
		{"expired", envfile.Session{RefreshToken: "r", Expiry: now.Add(-time.Hour)}, true},
		{"no refresh token", envfile.Session{Expiry: now.Add(-time.Hour)}, false},
		{"unknown expiry", envfile.Session{RefreshToken: "r"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.session.NeedsRefresh(now, time.Minute); got != tt.want {
				t.Errorf("NeedsRefresh(%v) = %v, want %v", tt.session.Expiry, got, tt.want)
			}
		})
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %o, want %o", path, got, want)
	}
}

// TestStaleLockIsBroken leaves a lock behind as a micro command killed
// mid-refresh would; the next update must not wait on it forever.
func TestStaleLockIsBroken(t *testing.T) {
	s, home := newStore(t)
	lock := filepath.Join(home, ".micro", "config.json.lock")
	if err := os.MkdirAll(filepath.Dir(lock), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Update(func(f *envfile.File) error { return f.Use(envfile.Platform) }); err != nil {
		t.Fatalf("Update() with a stale lock = %v, want success", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Update() with a stale lock took %v, want it broken at once", d)
	}
}
