package sdk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"m3o.dev/services/runtime/local/sdk"
)

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	got, err := sdk.Install(dir)
	if err != nil {
		t.Fatalf("Install() = %v", err)
	}
	for _, f := range []string{"pkg/go.mod", "pkg/pkg.go", "proto/go.mod", "proto/m3o/registry/v1/registry.pb.go"} {
		info, err := os.Stat(filepath.Join(got, f))
		if err != nil {
			t.Errorf("installed SDK lacks %s: %v", f, err)
			continue
		}
		if info.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644: every namespace's builds read it", f, info.Mode().Perm())
		}
	}
	if info, err := os.Stat(got); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("SDK directory mode = %v, %v, want 0755", info.Mode().Perm(), err)
	}
	again, err := sdk.Install(dir)
	if err != nil || again != got {
		t.Errorf("second Install() = %q, %v, want the same directory %q", again, err, got)
	}
}

// TestSeedModules copies the SDK's dependencies out of this machine's
// module cache, which building this very test filled.
func TestSeedModules(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	from := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	to := t.TempDir()
	found, err := sdk.SeedModules(from, to)
	if err != nil {
		t.Fatalf("SeedModules() = %v", err)
	}
	if found == 0 {
		t.Fatalf("SeedModules() found no module of the SDK in %s", from)
	}
	zips, _ := filepath.Glob(filepath.Join(to, "google.golang.org", "grpc", "@v", "*.zip"))
	if len(zips) == 0 {
		t.Errorf("no grpc module zip was copied to %s (found %d module versions)", to, found)
	}
}
