package source_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"m3o.dev/services/runtime/source"
)

// writeTree creates files under dir; a "->" prefix on a body makes a
// symlink.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(body, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(body), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestPackRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		".gitignore":      "/bin/\n*.log\n!keep.log\n",
		"main.go":         "package main\n",
		"handler/h.go":    "package handler\n",
		"bin/hello":       "binary",
		"debug.log":       "noise",
		"keep.log":        "kept",
		".git/HEAD":       "ref: refs/heads/main\n",
		"sub/.git":        "gitdir: elsewhere\n",
		"handler/link.go": "->h.go",
		"cmd/bin/tool.go": "package main\n",
	})
	if err := os.Chmod(filepath.Join(src, "main.go"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := source.Pack(&buf, src); err != nil {
		t.Fatalf("Pack() = %v", err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := source.Extract(&buf, dst, source.Limits{}); err != nil {
		t.Fatalf("Extract(Pack()) = %v", err)
	}
	got := listTree(t, dst)
	want := map[string]fs.FileMode{
		".": fs.ModeDir | 0o755, ".gitignore": 0o644, "main.go": 0o755, "handler": fs.ModeDir | 0o755,
		"handler/h.go": 0o644, "keep.log": 0o644, "sub": fs.ModeDir | 0o755,
		"handler/link.go": fs.ModeSymlink | 0o777, "cmd": fs.ModeDir | 0o755, "cmd/bin": fs.ModeDir | 0o755,
		"cmd/bin/tool.go": 0o644,
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("packed tree has %s = %v, want %v", name, got[name], mode)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("packed tree has %s, want it left out", name)
		}
	}
}

func TestPackRefuses(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string)
		reason string
	}{
		{"symlink out", func(t *testing.T, dir string) { writeTree(t, dir, map[string]string{"l": "->../../etc/passwd"}) }, "outside the folder"},
		{"absolute symlink", func(t *testing.T, dir string) { writeTree(t, dir, map[string]string{"l": "->/etc/passwd"}) }, "outside the folder"},
		{"fifo", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "p"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "named pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			var buf bytes.Buffer
			if err := source.Pack(&buf, dir); err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Pack() = %v, want an error saying %q", err, tt.reason)
			}
		})
	}
}

func TestPackIgnoredSpecialFileIsSkipped(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{".gitignore": "*.sock\n", "main.go": "package main\n"})
	if err := syscall.Mkfifo(filepath.Join(dir, "x.sock"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := source.Pack(&buf, dir); err != nil {
		t.Fatalf("Pack() with an ignored fifo = %v, want nil", err)
	}
}
