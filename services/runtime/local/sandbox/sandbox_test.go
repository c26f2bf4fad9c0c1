package sandbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"m3o.dev/services/runtime/local/sandbox"
)

func TestNamespaceUIDsAreDistinctAndStable(t *testing.T) {
	dir := sharedDir(t) + "/runtime"
	s, err := sandbox.New(sandbox.Config{Dir: dir})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	a, b := namespace(t, s, "alpha-one"), namespace(t, s, "beta-two")
	if a.UID == b.UID || a.UID < sandbox.DefaultFirstUID || b.UID < sandbox.DefaultFirstUID || a.GID != a.UID {
		t.Fatalf("uids = %d/%d and %d/%d, want distinct ids from %d with gid = uid", a.UID, a.GID, b.UID, b.GID, sandbox.DefaultFirstUID)
	}
	again, err := sandbox.New(sandbox.Config{Dir: dir})
	if err != nil {
		t.Fatalf("New() again = %v", err)
	}
	if b2 := namespace(t, again, "beta-two"); b2.UID != b.UID {
		t.Fatalf("after a restart beta-two has uid %d, want %d as before", b2.UID, b.UID)
	}
}

func TestUIDRange(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{Dir: sharedDir(t) + "/runtime", FirstUID: 5000, UIDCount: 2})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	namespace(t, s, "ns-one")
	namespace(t, s, "ns-two")
	if _, err := s.Namespace("ns-three"); !errors.Is(err, sandbox.ErrNoUIDs) {
		t.Fatalf("Namespace(third of two) = %v, want ErrNoUIDs", err)
	}
	for _, first := range []uint32{1, 999} {
		if _, err := sandbox.New(sandbox.Config{Dir: t.TempDir(), FirstUID: first}); err == nil {
			t.Errorf("New(FirstUID %d) = nil, want an error: the range must stay clear of root and system users", first)
		}
	}
}

func TestNamespaceRefusesBadNames(t *testing.T) {
	s := newSandbox(t)
	for _, name := range []string{"", "ab", "Upper", "-lead", "a/b", "../up", "a.b", strings.Repeat("a", 41)} {
		if _, err := s.Namespace(name); !errors.Is(err, sandbox.ErrInvalidName) {
			t.Errorf("Namespace(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestNamespaceDirs(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "gamma-three")
	wantOwner := uint32(os.Geteuid())
	if s.Isolated() {
		wantOwner = n.UID
	}
	for _, d := range []struct {
		path     string
		mode     os.FileMode
		uid, gid uint32
	}{{n.Dir, 0o700, wantOwner, wantOwner}, {n.SourceDir, 0o750, uint32(os.Geteuid()), wantOwner}} {
		info, err := os.Lstat(d.path)
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if !info.IsDir() || info.Mode().Perm() != d.mode || st.Uid != d.uid || (s.Isolated() && st.Gid != d.gid) {
			t.Errorf("%s: mode %v owner %d:%d, want a directory %v owned by %d:%d", d.path, info.Mode(), st.Uid, st.Gid, d.mode, d.uid, d.gid)
		}
	}
}

func TestMkdirRefusesPlantedEntries(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "delta-four")
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(n.Dir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"escape/sub", "file/sub", "../x", "/abs"} {
		if _, err := n.Mkdir(rel); err == nil {
			t.Errorf("Mkdir(%q) = nil, want an error", rel)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("Mkdir created %v outside the namespace", entries)
	}
	if p, err := n.Mkdir("a/b/c"); err != nil || p != filepath.Join(n.Dir, "a", "b", "c") {
		t.Fatalf("Mkdir(a/b/c) = %q, %v, want the path under the namespace", p, err)
	}
}

func TestWriteFileNeverWritesThroughALink(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "epsilon-five")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(victim, filepath.Join(n.Dir, "hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(n.Dir, "soft")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"hard", "soft"} {
		if err := n.WriteFile(rel, []byte("overwritten")); err != nil {
			t.Fatalf("WriteFile(%q) = %v", rel, err)
		}
		if got, _ := os.ReadFile(filepath.Join(n.Dir, rel)); string(got) != "overwritten" {
			t.Errorf("%s holds %q, want the new content", rel, got)
		}
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious" {
		t.Fatalf("the linked file now holds %q, want it untouched", got)
	}
}

// TestReplaceRenameRemoveStayInside plants links where the server renames
// and removes: the links themselves are replaced or removed, and what they
// point at is left alone.
func TestReplaceRenameRemoveStayInside(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "eta-seven")
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Mkdir("tls"); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"tls/cert.pem", "tls/cert.pem.new", "bin"} {
		target := victim
		if link == "bin" {
			target = outside
		}
		if err := os.Symlink(target, filepath.Join(n.Dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.ReplaceFile("tls/cert.pem", []byte("renewed")); err != nil {
		t.Fatalf("ReplaceFile() = %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(n.Dir, "tls", "cert.pem")); string(got) != "renewed" {
		t.Errorf("tls/cert.pem holds %q, want the new content", got)
	}
	if err := n.Rename("bin", "old-bin"); err != nil {
		t.Fatalf("Rename() = %v", err)
	}
	if err := n.RemoveAll("old-bin"); err != nil {
		t.Fatalf("RemoveAll() = %v", err)
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "precious" {
		t.Fatalf("the linked file now holds %q, %v, want it untouched", got, err)
	}
	for _, bad := range []string{"../escape", "/abs", ""} {
		if err := n.RemoveAll(bad); err == nil {
			t.Errorf("RemoveAll(%q) = nil, want a refusal", bad)
		}
	}
}

func TestEnvironmentIsBuiltFromNothing(t *testing.T) {
	t.Setenv("M3O_TEST_CANARY_SECRET", "hunter2")
	s := newSandbox(t)
	n := namespace(t, s, "zeta-six")
	r := run(t, s, n, "env-check", []string{"MICRO_SERVICE_NAME=hello", "HOME=/root"}, "/usr/bin/env")
	if r.exitCode != 0 {
		t.Fatalf("env exited %d: %s", r.exitCode, r.stderr)
	}
	got := strings.Split(strings.TrimSpace(r.stdout), "\n")
	slices.Sort(got)
	want := []string{
		"HOME=" + filepath.Join(n.Dir, "home", "env-check"),
		"MICRO_SERVICE_NAME=hello",
		"PATH=" + sandbox.DefaultPath,
		"TMPDIR=" + filepath.Join(n.Dir, "tmp", "env-check"),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("child environment = %q, want exactly %q (none of the server's, such as the canary)", got, want)
	}
}

func TestStartRefusesBadSpecs(t *testing.T) {
	s := newSandbox(t)
	n := namespace(t, s, "eta-seven")
	tests := []struct {
		name string
		spec sandbox.Spec
	}{
		{"no namespace", sandbox.Spec{Name: "x", Path: "/bin/true"}},
		{"bad name", sandbox.Spec{Namespace: n, Name: "../x", Path: "/bin/true"}},
		{"relative program", sandbox.Spec{Namespace: n, Name: "x", Path: "true"}},
		{"bad env", sandbox.Spec{Namespace: n, Name: "x", Path: "/bin/true", Env: []string{"NOEQUALS"}}},
		{"missing program", sandbox.Spec{Namespace: n, Name: "x", Path: "/nonexistent/prog"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := s.Start(tt.spec); err == nil {
				p.Stop(0)
				t.Fatalf("Start() = nil error, want one")
			}
		})
	}
}
