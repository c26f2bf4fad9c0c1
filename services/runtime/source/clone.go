package source

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// DefaultCloneTimeout bounds a whole Clone when GitOptions.Timeout is zero.
const DefaultCloneTimeout = 2 * time.Minute

// GitOptions configure Clone. The zero value is the safe default.
type GitOptions struct {
	// AllowLocal lets file:// URLs and hosts on loopback, private or
	// link-local addresses through. It is an operator's choice, for a
	// platform on a private network or for tests.
	AllowLocal bool
	// Timeout bounds the whole clone; zero means DefaultCloneTimeout.
	Timeout time.Duration
	// Limits bound the checked-out tree as they bound an upload; the clone
	// in progress, history included, may use twice UnpackedBytes on disk.
	Limits Limits
	// Git is the git binary; empty means "git" found on the server's PATH.
	Git string
	// Resolver looks hosts up; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// withDefaults fills the zero fields.
func (o GitOptions) withDefaults() (GitOptions, error) {
	var err error
	if o.Timeout <= 0 {
		o.Timeout = DefaultCloneTimeout
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Git == "" {
		o.Git = "git"
	}
	if o.Git, err = exec.LookPath(o.Git); err != nil {
		return o, fmt.Errorf("clone: find git: %w", err)
	}
	o.Limits, err = o.Limits.withDefaults()
	return o, err
}

// CheckGitURL checks a repository URL (without its ref) the way Clone will,
// address included, so the service can refuse a bad source before queueing
// a build.
func CheckGitURL(ctx context.Context, repo string, opts GitOptions) error {
	if err := checkGitSyntax(repo); err != nil {
		return err
	}
	u, err := parseRepoURL(repo)
	if err != nil {
		return err
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	return checkLocal(ctx, u, opts)
}

// Clone fetches ref (a branch, a tag or a commit; "" for the default
// branch) of the repository at repo into dst, which must not exist, and
// leaves a plain tree without .git. repo and ref are what ParseGitURL
// returned.
//
// It runs the git binary with nothing of the server's environment, a
// throwaway HOME, no system or global config, no hooks, no credential
// helper, no redirects, and only the https protocol (file too with
// AllowLocal). It fetches one commit deep by name, falling back to the
// whole history for a commit a server will not hand out by id. Submodules
// are never fetched; a .gitmodules that declares any fails the clone with
// ErrSubmodules. The checkout is held to opts.Limits and symlinks leading
// out of it are refused, as Extract refuses them.
func Clone(ctx context.Context, repo, ref, dst string, opts GitOptions) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	u, err := parseRepoURL(repo)
	if err == nil {
		err = checkGitSyntax(repo)
	}
	if err == nil && ref != "" {
		if rerr := checkRef(ref); rerr != nil {
			err = badURL(repo, rerr.Error())
		}
	}
	if err == nil {
		err = checkLocal(ctx, u, opts)
	}
	if err != nil {
		return err
	}
	if err := checkFresh(dst); err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	return cloneInto(ctx, repo, ref, dst, opts)
}

// cloneInto does Clone's work in a temporary directory beside dst and
// renames the tree into place when everything passed.
func cloneInto(ctx context.Context, repo, ref, dst string, opts GitOptions) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".clone-")
	if err != nil {
		return fmt.Errorf("clone to %q: %w", dst, err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout,
		fmt.Errorf("the clone took longer than %s: %w", opts.Timeout, ErrCloneFailed))
	defer cancel()
	ctx = watchSize(ctx, tmp, 2*opts.Limits.UnpackedBytes)
	g := &gitRunner{git: opts.Git, home: filepath.Join(tmp, "home"), work: filepath.Join(tmp, "src"),
		allowFile: opts.AllowLocal, repo: redact(repo)}
	err = os.Mkdir(g.home, 0o700)
	if err == nil {
		err = g.fetch(ctx, repo, ref)
	}
	if err == nil {
		err = finishTree(g.work, opts.Limits)
	}
	if err == nil {
		err = os.Rename(g.work, dst)
	}
	if err != nil {
		return fmt.Errorf("clone %q at %q: %w", redact(repo), ref, err)
	}
	return nil
}

// gitRunner runs git commands for one clone.
type gitRunner struct {
	git, home, work, repo string
	allowFile             bool
}

// fetch creates the repository, fetches ref and checks it out.
func (g *gitRunner) fetch(ctx context.Context, repo, ref string) error {
	if err := g.run(ctx, "", "init", "-q", "--template=", g.work); err != nil {
		return err
	}
	if err := g.run(ctx, g.work, "remote", "add", "origin", repo); err != nil {
		return err
	}
	want := ref
	if want == "" {
		want = "HEAD"
	}
	err := g.run(ctx, g.work, "fetch", "-q", "--depth=1", "--no-tags", "--no-recurse-submodules", "origin", want)
	if err == nil {
		return g.run(ctx, g.work, "checkout", "-q", "--detach", "FETCH_HEAD")
	}
	if !looksLikeCommit(ref) || ctx.Err() != nil {
		return err
	}
	// Servers may refuse a commit by id, and an abbreviated id is no ref at
	// all: fetch every branch and tag, then let git find the commit.
	err = g.run(ctx, g.work, "fetch", "-q", "--no-recurse-submodules", "origin",
		"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
	if err == nil {
		err = g.run(ctx, g.work, "checkout", "-q", "--detach", ref+"^{commit}")
	}
	return err
}

// looksLikeCommit reports whether ref could be a (possibly abbreviated)
// commit id.
func looksLikeCommit(ref string) bool {
	if len(ref) < 4 || len(ref) > 64 {
		return false
	}
	return strings.Trim(ref, "0123456789abcdef") == ""
}

// gitConfig is passed on every command line, where nothing in the
// repository can override it.
func (g *gitRunner) gitConfig() []string {
	cfg := []string{
		"protocol.allow=never", "protocol.https.allow=always",
		"core.hooksPath=/dev/null", "core.fsmonitor=false", "credential.helper=",
		"http.followRedirects=false", "transfer.fsckObjects=true",
		"submodule.recurse=false", "fetch.recurseSubmodules=false",
		"advice.detachedHead=false", "init.defaultBranch=main",
	}
	if g.allowFile {
		cfg = append(cfg, "protocol.file.allow=always")
	}
	args := make([]string, 0, 2*len(cfg))
	for _, c := range cfg {
		args = append(args, "-c", c)
	}
	return args
}

// run runs one git command with an environment built from nothing, in its
// own process group, killed with the group when ctx ends.
func (g *gitRunner) run(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, g.git, append(g.gitConfig(), args...)...)
	cmd.Dir = dir
	cmd.Env = []string{
		"HOME=" + g.home, "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
		"GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_PROTOCOL_FROM_USER=0",
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Pdeathsig fires when the thread that started the child exits; holding
	// this goroutine on its thread until git is done keeps the Go runtime
	// from retiring that thread under it.
	runtime.LockOSThread()
	err := cmd.Run()
	runtime.UnlockOSThread()
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if err != nil {
		return fmt.Errorf("git %s: %s: %w", args[0], firstLine(stderr.String(), err), ErrCloneFailed)
	}
	return nil
}

// firstLine returns the first non-empty line git printed, or the process
// error when it printed none.
func firstLine(s string, err error) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return err.Error()
}

// watchSize returns a context that ends, with a cause matching
// ErrInvalidSource, once the directory holds more than max bytes, so a
// huge repository is stopped while it downloads rather than after.
func watchSize(ctx context.Context, dir string, max int64) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if treeSize(dir) > max {
				cancel(fmt.Errorf("the repository is over the %s limit: %w", mib(max), ErrInvalidSource))
				return
			}
		}
	}()
	return ctx
}

// treeSize adds up the sizes of the regular files under dir; files that
// vanish during the walk are skipped.
func treeSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
