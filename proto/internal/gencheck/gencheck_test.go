// Package gencheck tests that 'make check-proto' notices generated code
// that no longer matches its proto sources.
package gencheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckProtoDetectsHandEdit runs scripts/check-proto.sh on a copy of the
// repository twice: as committed it passes, and after a hand edit to a
// generated file it fails and names that file.
func TestCheckProtoDetectsHandEdit(t *testing.T) {
	repo := copyRepo(t)

	if out, err := checkProto(t, repo); err != nil {
		t.Fatalf("check-proto on the committed tree = %v, want success\n%s", err, out)
	}

	edited := filepath.Join(repo, "proto", "m3o", "store", "v1", "store.pb.go")
	appendLine(t, edited, "// hand edit")
	out, err := checkProto(t, repo)
	if err == nil {
		t.Fatalf("check-proto after a hand edit succeeded, want failure\n%s", out)
	}
	if !strings.Contains(out, "store.pb.go") {
		t.Errorf("check-proto output = %q, want it to name store.pb.go", out)
	}
}

// copyRepo copies what check-proto needs into a temporary directory and
// shares the already-built generators.
func copyRepo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	// The SDK's test API is generated beside the protos (see protogen.sh).
	for _, p := range []string{"proto", "scripts", "buf.yaml", "buf.gen.yaml", "pkg/service/servicetest/hellopb"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-r", filepath.Join(root, p), filepath.Join(dst, p)).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", p, err, out)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, ".cache", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dst, ".cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, ".cache", "bin"), filepath.Join(dst, ".cache", "bin")); err != nil {
		t.Fatal(err)
	}
	return dst
}

func checkProto(t *testing.T, repo string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repo, "scripts", "check-proto.sh"))
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}
