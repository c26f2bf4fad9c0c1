package sandbox_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"m3o.dev/services/runtime/local/sandbox"
)

func TestRunsAsTheNamespaceUID(t *testing.T) {
	requireRoot(t)
	s := newSandbox(t)
	if !s.Isolated() || !sandbox.CanSwitchUsers() {
		t.Fatalf("Isolated() = %v, CanSwitchUsers() = %v as root, want true", s.Isolated(), sandbox.CanSwitchUsers())
	}
	n := namespace(t, s, "uid-check")
	r := run(t, s, n, "id", nil, "/bin/sh", "-c", "id -u; id -g; id -G")
	want := strings.Repeat(strconv.Itoa(int(n.UID))+"\n", 3)
	if r.exitCode != 0 || r.stdout != want || n.UID == 0 {
		t.Fatalf("id printed %q (exit %d, %s), want uid, gid and groups all %d and never 0", r.stdout, r.exitCode, r.stderr, n.UID)
	}
}

func TestNamespacesCannotReadEachOtherOrTheDataDir(t *testing.T) {
	requireRoot(t)
	base := sharedDir(t)
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	// The file itself is world-readable: only the data dir's mode guards it.
	secret := filepath.Join(data, "platform.key")
	if err := os.WriteFile(secret, []byte("platform secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := sandbox.New(sandbox.Config{Dir: filepath.Join(base, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	a, b := namespace(t, s, "tenant-a"), namespace(t, s, "tenant-b")
	own := run(t, s, a, "writer", nil, "/bin/sh", "-c", `umask 022; echo tenant-a secret > $HOME/notes.txt && cat $HOME/notes.txt`)
	if own.exitCode != 0 || own.stdout != "tenant-a secret\n" {
		t.Fatalf("tenant-a reading its own file printed %q (exit %d, %s), want its content", own.stdout, own.exitCode, own.stderr)
	}
	if err := os.WriteFile(filepath.Join(a.SourceDir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, s, a, "reader", nil, "/bin/cat", filepath.Join(a.SourceDir, "main.go")); r.exitCode != 0 {
		t.Fatalf("tenant-a cannot read its own sources: exit %d, %s", r.exitCode, r.stderr)
	}
	for name, path := range map[string]string{
		"data dir file":       secret,
		"other tenant's file": filepath.Join(a.Dir, "home", "writer", "notes.txt"),
		"other tenant's dir":  a.Dir,
		"other sources":       filepath.Join(a.SourceDir, "main.go"),
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, s, b, "snoop", nil, "/bin/sh", "-c", `cat "$1" || ls "$1"`, "sh", path)
			if r.exitCode == 0 || !strings.Contains(r.stderr, "Permission denied") || strings.Contains(r.stdout, "secret") {
				t.Fatalf("tenant-b reading %s: exit %d, stdout %q, stderr %q; want Permission denied", path, r.exitCode, r.stdout, r.stderr)
			}
		})
	}
	if r := run(t, s, b, "writer", nil, "/bin/sh", "-c", `echo x > "$1"`, "sh", filepath.Join(b.SourceDir, "planted")); r.exitCode == 0 {
		t.Fatalf("tenant-b wrote into its source dir, want it read-only to the tenant")
	}
}

func TestNotRootReportsNoIsolation(t *testing.T) {
	if os.Geteuid() == 0 {
		if !sandbox.CanSwitchUsers() {
			t.Fatal("CanSwitchUsers() = false as root, want true")
		}
		return
	}
	s := newSandbox(t)
	if sandbox.CanSwitchUsers() || s.Isolated() {
		t.Fatalf("CanSwitchUsers() = %v, Isolated() = %v as uid %d, want false", sandbox.CanSwitchUsers(), s.Isolated(), os.Geteuid())
	}
}
