// Package e2e drives the micro binary as a new user would: it builds
// bin/micro, starts `micro server` with a temporary HOME and free ports, and
// runs CLI commands against it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// adminPassword is the bootstrap admin's password in every journey.
const adminPassword = "correct-horse-battery"

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// microBinary builds cmd/micro once per test run, as scripts/build.sh does.
func microBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "m3o-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "micro")
		out, err := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", binary, "../cmd/micro").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// platform is one `micro server` process and the home of the user who
// drives it.
type platform struct {
	t        *testing.T
	bin      string
	home     string
	dataDir  string
	grpcAddr string
	httpAddr string
	args     []string
	// extraEnv is added to the environment of the server and commands.
	extraEnv []string
	// serverEnv is added to the server's environment, such as SMTP
	// credentials.
	serverEnv []string

	cmd    *exec.Cmd
	output *lockedBuffer
	exited chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newPlatform prepares a server with its own data dir and HOME; extra are
// further `micro server` flags.
func newPlatform(t *testing.T, extra ...string) *platform {
	t.Helper()
	root := t.TempDir()
	p := &platform{
		t:       t,
		bin:     microBinary(t),
		home:    filepath.Join(root, "home"),
		dataDir: filepath.Join(root, "data"),
	}
	// The first start picks free ports; a restart takes the same ones
	// again, as a server restarting on its configured address does.
	p.args = append([]string{"server", "--data-dir", p.dataDir, "--runtime-dir", runtimeDir(t),
		"--address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"}, extra...)
	if err := os.MkdirAll(p.home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	return p
}

// runtimeDir returns a directory for the runtime's sandbox that the
// namespaces' uids can reach, unlike t.TempDir's, whose parent is private;
// it goes when the test ends.
func runtimeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-e2e-runtime-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "runtime")
}

// useTestEnv adds the running server as the env 'test', trusting its CA,
// and makes it the current env.
func (p *platform) useTestEnv() {
	p.t.Helper()
	p.must("env", "add", "test", p.grpcAddr, "--ca-file", filepath.Join(p.dataDir, "ca.pem"))
	p.must("env", "set", "test")
}

// start runs the server and waits for its ready line.
func (p *platform) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = append(append(p.env(), "MICRO_ADMIN_PASSWORD="+adminPassword), p.serverEnv...)
	p.output = &lockedBuffer{}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Stderr = p.output
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.output, line)
			if strings.Contains(line, "ready") {
				select {
				case ready <- line:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	p.exited = make(chan error, 1)
	go func() { p.exited <- p.cmd.Wait() }()
	select {
	case line := <-ready:
		p.t.Logf("server: %s", line)
		p.useAddresses(line)
	case err := <-p.exited:
		p.t.Fatalf("micro server exited before it was ready: %v\n%s", err, p.output)
	case <-time.After(3 * time.Minute):
		p.t.Fatalf("micro server printed no ready line within 3 minutes\n%s", p.output)
	}
}

// readyLine is the ready line's text, with the addresses the server bound.
var readyLine = regexp.MustCompile(`ready: gRPC (\S+), HTTP (\S+),`)

// useAddresses takes the addresses from the ready line, and pins them for
// a restart.
func (p *platform) useAddresses(line string) {
	p.t.Helper()
	m := readyLine.FindStringSubmatch(line)
	if m == nil {
		p.t.Fatalf("ready line %q names no addresses", line)
	}
	p.grpcAddr, p.httpAddr = m[1], m[2]
	for i := range p.args {
		switch {
		case i > 0 && p.args[i-1] == "--address":
			p.args[i] = p.grpcAddr
		case i > 0 && p.args[i-1] == "--http-address":
			p.args[i] = p.httpAddr
		}
	}
}

// stop sends SIGTERM and requires a clean exit.
func (p *platform) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			p.t.Fatalf("micro server after SIGTERM = %v, want exit 0\n%s", err, p.output)
		}
	case <-time.After(time.Minute):
		p.t.Fatalf("micro server still running a minute after SIGTERM\n%s", p.output)
	}
	p.cmd = nil
}

func (p *platform) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		<-p.exited
		p.cmd = nil
	}
	if p.t.Failed() && p.output != nil {
		p.t.Logf("server output:\n%s", p.output)
	}
}

func (p *platform) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MICRO_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "HOME="+p.home), p.extraEnv...)
}

// result is what one CLI command did.
type result struct {
	code   int
	stdout string
	stderr string
}

// micro runs one CLI command as the platform's user, with stdin as input.
func (p *platform) micro(stdin string, args ...string) result {
	p.t.Helper()
	return p.microIn(invocation{stdin: stdin}, args...)
}

// invocation says where and for how long a command runs.
type invocation struct {
	// dir is the working directory; empty is the test's.
	dir string
	// timeout bounds the command; zero is 2 minutes.
	timeout time.Duration
	stdin   string
}

// microIn runs one CLI command as the platform's user as inv says.
func (p *platform) microIn(inv invocation, args ...string) result {
	p.t.Helper()
	if inv.timeout == 0 {
		inv.timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(p.t.Context(), inv.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Env = p.env()
	cmd.Dir = inv.dir
	cmd.Stdin = strings.NewReader(inv.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			p.t.Fatalf("micro %s: %v", strings.Join(args, " "), err)
		}
		code = exit.ExitCode()
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// must runs a command that has to succeed and returns its stdout.
func (p *platform) must(args ...string) string {
	p.t.Helper()
	r := p.micro("", args...)
	if r.code != 0 {
		p.t.Fatalf("micro %s = exit %d, want 0\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// exits runs a command that has to fail with code and returns its result.
func (p *platform) exits(code int, args ...string) result {
	p.t.Helper()
	r := p.micro("", args...)
	if r.code != code {
		p.t.Fatalf("micro %s = exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// running is a CLI command that runs while the test acts, such as a
// sign-up waiting for a card.
type running struct {
	lines  chan string
	out    *lockedBuffer
	stderr *lockedBuffer
	read   chan struct{}
	exited chan result
}

// begin starts one CLI command as the platform's user, with stdin as
// input, and returns at once; its stdout comes line by line.
func (p *platform) begin(stdin string, args ...string) *running {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 5*time.Minute)
	p.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Env = p.env()
	cmd.Stdin = strings.NewReader(stdin)
	r := &running{
		lines: make(chan string, 64), out: &lockedBuffer{}, stderr: &lockedBuffer{},
		read: make(chan struct{}), exited: make(chan result, 1),
	}
	cmd.Stderr = r.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	go r.readLines(stdout)
	go r.wait(cmd)
	return r
}

// readLines passes stdout on line by line, and keeps it all.
func (r *running) readLines(stdout io.Reader) {
	defer close(r.read)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		fmt.Fprintln(r.out, sc.Text())
		select {
		case r.lines <- sc.Text():
		default:
		}
	}
}

// wait reports the command's result once its output is read.
func (r *running) wait(cmd *exec.Cmd) {
	<-r.read
	err := cmd.Wait()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	}
	r.exited <- result{code: code, stdout: r.out.String(), stderr: r.stderr.String()}
}

// line returns the next line of stdout; the test fails if none comes
// within timeout.
func (r *running) line(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l := <-r.lines:
		return l
	case res := <-r.exited:
		t.Fatalf("the command exited %d before printing a line\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	case <-time.After(timeout):
		t.Fatalf("no line within %s; stderr so far: %s", timeout, r.stderr)
	}
	return ""
}

// result waits for the command to end; the test fails after timeout.
func (r *running) result(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case res := <-r.exited:
		return res
	case <-time.After(timeout):
		t.Fatalf("the command still runs after %s; stdout %s, stderr %s", timeout, r.out, r.stderr)
	}
	return result{}
}
