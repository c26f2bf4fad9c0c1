package source_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/runtime/source"
)

// testRepo is a bare repository built by the test with the git binary.
type testRepo struct {
	url     string
	first   string // commit of "one"
	second  string // commit of "two", the tip of main
	devTip  string // commit of "dev", the tip of the dev branch
	workDir string
	bare    string
}

// commitMain commits files on main and pushes main to the bare copy.
func (r testRepo) commitMain(t *testing.T, msg string, files map[string]string) {
	t.Helper()
	commit(t, r.workDir, msg, files)
	git(t, r.workDir, "push", "-q", r.bare, "main")
}

// git runs git in dir with an environment of its own and returns its
// trimmed output.
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

// commit writes files (a "->" prefix on a body makes a symlink) and commits.
func commit(t *testing.T, dir, msg string, files map[string]string) string {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
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
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", msg)
	return git(t, dir, "rev-parse", "HEAD")
}

// newTestRepo builds a repository with two commits on main (the first
// tagged v1) and a dev branch, and returns its bare copy's file URL.
func newTestRepo(t *testing.T) testRepo {
	t.Helper()
	work := t.TempDir()
	git(t, work, "init", "-q", "-b", "main")
	r := testRepo{workDir: work}
	r.first = commit(t, work, "one", map[string]string{"version.txt": "one", "go.mod": "module example.com/hello\n"})
	git(t, work, "tag", "v1")
	r.second = commit(t, work, "two", map[string]string{"version.txt": "two"})
	git(t, work, "checkout", "-q", "-b", "dev", r.first)
	r.devTip = commit(t, work, "dev", map[string]string{"version.txt": "dev"})
	git(t, work, "checkout", "-q", "main")
	bare := filepath.Join(t.TempDir(), "repo.git")
	git(t, work, "clone", "-q", "--bare", work, bare)
	r.url, r.bare = "file://"+bare, bare
	return r
}

func TestCloneAtRef(t *testing.T) {
	r := newTestRepo(t)
	tests := []struct {
		name, ref, want string
	}{
		{"default branch", "", "two"},
		{"branch", "dev", "dev"},
		{"tag", "v1", "one"},
		{"commit", r.first, "one"},
		{"abbreviated commit", r.first[:10], "one"},
		{"commit on a branch", r.devTip, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "src")
			if err := source.Clone(t.Context(), r.url, tt.ref, dst, source.GitOptions{AllowLocal: true}); err != nil {
				t.Fatalf("Clone(%q) = %v, want nil", tt.ref, err)
			}
			if got, err := os.ReadFile(filepath.Join(dst, "version.txt")); string(got) != tt.want {
				t.Errorf("version.txt at %q = %q, %v, want %q", tt.ref, got, err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dst, ".git")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Stat(.git) = %v, want it removed", err)
			}
		})
	}
}

func TestCloneThroughParsedURL(t *testing.T) {
	r := newTestRepo(t)
	url, ref, err := source.ParseGitURL(r.url + "@v1")
	if err != nil {
		t.Fatalf("ParseGitURL() = %v", err)
	}
	dst := filepath.Join(t.TempDir(), "src")
	if err := source.Clone(t.Context(), url, ref, dst, source.GitOptions{AllowLocal: true}); err != nil {
		t.Fatalf("Clone(%q, %q) = %v, want nil", url, ref, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "version.txt")); string(got) != "one" {
		t.Fatalf("version.txt = %q, want one", got)
	}
}

func TestCloneRefuses(t *testing.T) {
	r := newTestRepo(t)
	subs := newTestRepo(t)
	subs.commitMain(t, "subs", map[string]string{".gitmodules": "[submodule \"lib\"]\n\tpath = lib\n\turl = https://example.com/lib\n"})
	outside := newTestRepo(t)
	outside.commitMain(t, "link", map[string]string{"passwd": "->/etc/passwd", "up": "->../../x"})
	tests := []struct {
		name, url, ref string
		opts           source.GitOptions
		want           error
	}{
		{"file URL without AllowLocal", r.url, "", source.GitOptions{}, source.ErrLocalGitURL},
		{"loopback without AllowLocal", "https://127.0.0.1/x/y", "", source.GitOptions{}, source.ErrLocalGitURL},
		{"unknown ref", r.url, "nope", source.GitOptions{AllowLocal: true}, source.ErrCloneFailed},
		{"unknown commit", r.url, "deadbeef", source.GitOptions{AllowLocal: true}, source.ErrCloneFailed},
		{"bad ref", r.url, "-b", source.GitOptions{AllowLocal: true}, source.ErrInvalidGitURL},
		{"option-like URL", "-uhttps://x/y", "", source.GitOptions{AllowLocal: true}, source.ErrInvalidGitURL},
		{"scp-like URL", "git@github.com:x/y", "", source.GitOptions{AllowLocal: true}, source.ErrInvalidGitURL},
		{"remote helper", "ext::sh%20-c%20id", "", source.GitOptions{AllowLocal: true}, source.ErrInvalidGitURL},
		{"submodules", subs.url, "main", source.GitOptions{AllowLocal: true}, source.ErrSubmodules},
		{"symlink out", outside.url, "main", source.GitOptions{AllowLocal: true}, source.ErrInvalidSource},
		{"over the size limit", r.url, "", source.GitOptions{AllowLocal: true, Limits: source.Limits{UnpackedBytes: 4}}, source.ErrInvalidSource},
		{"over the file limit", r.url, "", source.GitOptions{AllowLocal: true, Limits: source.Limits{Files: 1}}, source.ErrInvalidSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scratch := t.TempDir()
			err := source.Clone(t.Context(), tt.url, tt.ref, filepath.Join(scratch, "src"), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Clone(%q, %q) = %v, want an error matching %v", tt.url, tt.ref, err, tt.want)
			}
			wantEmpty(t, scratch)
		})
	}
}

func TestCloneTimesOut(t *testing.T) {
	r := newTestRepo(t)
	scratch := t.TempDir()
	err := source.Clone(t.Context(), r.url, "", filepath.Join(scratch, "src"), source.GitOptions{AllowLocal: true, Timeout: time.Nanosecond})
	if !errors.Is(err, source.ErrCloneFailed) || !strings.Contains(err.Error(), "took longer than 1ns") {
		t.Fatalf("Clone(1ns timeout) = %v, want ErrCloneFailed saying it took too long", err)
	}
	wantEmpty(t, scratch)
}
