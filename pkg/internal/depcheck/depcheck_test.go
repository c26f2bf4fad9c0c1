package depcheck

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// forbidden are import path prefixes that must never be reachable from a
// package of this module.
var forbidden = []string{
	"go.etcd.io/etcd/server",
	"k8s.io/client-go",
	"github.com/jackc/pgx",
	"github.com/cockroachdb/pebble",
}

func TestNoHeavyDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("module root: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{.ImportPath}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./... in %s = %v\n%s", root, err, stderr(err))
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || !slices.Contains(deps, "m3o.dev/pkg/token") {
		t.Fatalf("go list -deps ./... listed %d packages without m3o.dev/pkg/token; wrong directory?", len(deps))
	}
	for _, d := range deps {
		if bad := forbiddenPrefix(d); bad != "" {
			t.Errorf("m3o.dev/pkg depends on %s (under %s); keep it in services", d, bad)
		}
	}
}

func TestForbiddenPrefix(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"go.etcd.io/etcd/server/v3/embed", "go.etcd.io/etcd/server"},
		{"k8s.io/client-go/kubernetes", "k8s.io/client-go"},
		{"github.com/jackc/pgx/v5", "github.com/jackc/pgx"},
		{"github.com/cockroachdb/pebble/v2", "github.com/cockroachdb/pebble"},
		{"go.etcd.io/etcd/client/v3", ""},
		{"google.golang.org/grpc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := forbiddenPrefix(tt.path); got != tt.want {
				t.Errorf("forbiddenPrefix(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// forbiddenPrefix returns the forbidden prefix path falls under, or "".
func forbiddenPrefix(path string) string {
	for _, f := range forbidden {
		// A plain prefix also catches major versions such as pgx/v5 and
		// sibling modules such as pebble/v2.
		if strings.HasPrefix(path, f) {
			return f
		}
	}
	return ""
}

func stderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
