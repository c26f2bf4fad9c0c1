package runtime_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/service"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/statustest"
	"m3o.dev/services/runtime"
)

// git runs git in dir and returns its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/local/bin:/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// bareRepo builds a bare repository with two commits on main and returns
// its file URL and the first commit.
func bareRepo(t *testing.T) (url, first string) {
	t.Helper()
	work := t.TempDir()
	git(t, work, "init", "-q", "-b", "main")
	for _, v := range []string{"one", "two"} {
		os.WriteFile(filepath.Join(work, "go.mod"), []byte("module example.com/hello\n"), 0o644)
		os.WriteFile(filepath.Join(work, "version.txt"), []byte(v), 0o644)
		git(t, work, "add", "-A")
		git(t, work, "commit", "-q", "-m", v)
		if first == "" {
			first = git(t, work, "rev-parse", "HEAD")
		}
	}
	bare := filepath.Join(t.TempDir(), "repo.git")
	git(t, work, "clone", "-q", "--bare", work, bare)
	return "file://" + bare, first
}

// fetch fetches the source of the service's latest deployment, as a
// backend does, and returns its files.
func fetch(t *testing.T, e *env, ref runtime.Ref) map[string]string {
	t.Helper()
	d, ok := e.backend.last(ref)
	if !ok {
		t.Fatalf("the backend has no deployment of %s", ref)
	}
	dst := filepath.Join(t.TempDir(), "src")
	if err := d.Source.Fetch(t.Context(), dst); err != nil {
		t.Fatalf("Fetch(%s) = %v", d.Source.ID(), err)
	}
	files := map[string]string{}
	fs.WalkDir(os.DirFS(dst), ".", func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			data, _ := os.ReadFile(filepath.Join(dst, p))
			files[p] = string(data)
		}
		return err
	})
	return files
}

// TestGitSources creates services from a local bare repository at a
// branch and at a commit, with local git sources allowed: the backend
// fetches the tree at that ref, and the checkout is kept in the store for
// rebuilding. Without the operator's flag the same URL is refused.
func TestGitSources(t *testing.T) {
	url, first := bareRepo(t)
	e := newEnv(t, options{allowLocal: true})
	c := e.client(t)
	ctx := e.tenant(t, "git-space", "dev", "developer")
	tests := []struct{ name, source, want string }{
		{"at-branch", url + "@main", "two"},
		{"at-commit", url + "@" + first, "one"},
		{"default-branch", url, "two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: tt.name, Source: tt.source}}); err != nil {
				t.Fatalf("Create(%s) = %v", tt.source, err)
			}
			ref := runtime.Ref{Namespace: "git-space", Name: tt.name}
			if got := fetch(t, e, ref)["version.txt"]; got != tt.want {
				t.Errorf("fetched version.txt = %q, want %q", got, tt.want)
			}
			if kept := e.keys(t, "sources", "git-space/"); len(kept) == 0 {
				t.Error("the checkout was not kept in the store")
			}
		})
	}
	strict := newEnv(t, options{})
	sc := strict.client(t)
	ctx = strict.tenant(t, "git-space", "dev", "developer")
	_, err := sc.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: url + "@main"}})
	statustest.WantCode(t, "Create(file URL) without --allow-local-git", err, codes.InvalidArgument)
}

// TestRestartRestores starts a second runtime over the same store, as
// after a restart: its reconciliation hands every recorded service to its
// fresh backend, at the recorded generation, with the same account.
func TestRestartRestores(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "back-space", "dev", "developer")
	src := mustUpload(t, ctx, c, "hello")
	if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: src}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctx, &runtimev1.UpdateRequest{Service: &runtimev1.Service{Name: "hello", Version: "v2"}}); err != nil {
		t.Fatal(err)
	}
	ref := runtime.Ref{Namespace: "back-space", Name: "hello"}
	before, _ := e.backend.last(ref)
	restarted := e.restart(t)
	after, ok := restarted.last(ref)
	if !ok || after.Generation != 2 || after.Version != "v2" || envOf(after, service.EnvAccountSecret) != envOf(before, service.EnvAccountSecret) {
		t.Errorf("after a restart the backend got %+v, want generation 2, version v2, the same account", after)
	}
}

// TestRestartRunsWhatRanFirst fails update after update of a service that
// ran, each from a new upload, then restarts: the fresh backend is given
// the generation that ran first, from its source, which the uploads since
// did not prune, and not only the latest, which would leave the service
// down. The latest follows without waiting for the periodic pass.
func TestRestartRunsWhatRanFirst(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "fail-space", "dev", "developer")
	first := mustUpload(t, ctx, c, "hello")
	if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: first}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, &runtimev1.ReadRequest{Name: "hello"}); err != nil { // as micro run does until it runs
		t.Fatal(err)
	}
	for range runtime.SourcesKept + 1 {
		src := mustUpload(t, ctx, c, "hello")
		if _, err := c.Update(ctx, &runtimev1.UpdateRequest{Service: &runtimev1.Service{Name: "hello", Source: src, Version: brokenVersion}}); err != nil {
			t.Fatal(err)
		}
	}
	ref := runtime.Ref{Namespace: "fail-space", Name: "hello"}
	restarted := e.restart(t)
	ds := restarted.deployments(ref)
	if ds[0].Generation != 1 || ds[0].Source.ID() != first {
		t.Fatalf("after a restart the backend got generation %d from %s first, want generation 1 from %s", ds[0].Generation, ds[0].Source.ID(), first)
	}
	if err := ds[0].Source.Fetch(t.Context(), filepath.Join(t.TempDir(), "tree")); err != nil {
		t.Errorf("Fetch() of the source that ran = %v, want it kept", err)
	}
	latest := uint64(runtime.SourcesKept + 2)
	coretest.Eventually(t, "the latest generation handed over after the one that ran", func() error {
		if d, _ := restarted.last(ref); d.Generation != latest {
			return fmt.Errorf("the backend's last deployment is generation %d, want %d", d.Generation, latest)
		}
		return nil
	})
}
