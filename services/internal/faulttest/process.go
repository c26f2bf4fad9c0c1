package faulttest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build builds the core services' standalone commands (services/cmd/<name>)
// into a temporary directory and returns their paths by name. cmdDir is
// the services/cmd directory, relative to the test.
func Build(t testing.TB, cmdDir string, names ...string) map[string]string {
	t.Helper()
	bins, dir := map[string]string{}, t.TempDir()
	for _, name := range names {
		bin := filepath.Join(dir, name)
		out, err := exec.Command("go", "build", "-o", bin, "./"+filepath.Join(cmdDir, name)).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
		bins[name] = bin
	}
	return bins
}

// Process is a core service's command running on its own, which a test
// can kill with SIGKILL and start again with the same arguments.
type Process struct {
	t    testing.TB
	name string
	bin  string
	args []string
	env  []string

	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	logs   strings.Builder
}

// StartProcess runs bin, the core service name, with args and env (added
// to PATH and HOME) until the test ends, and returns once it serves.
func StartProcess(t testing.TB, name, bin string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, name: name, bin: bin, args: args, env: env}
	t.Cleanup(p.kill)
	p.Start()
	return p
}

// Start starts the process again after Kill9, and waits until it serves.
// It binds the addresses the process listens on and hands the sockets
// over (corekit.ListenFDsEnv), so that the process listens where its
// peers dial from the moment it starts.
func (p *Process) Start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, p.env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := StartHandingOver(p.cmd, listenAddresses(p.args)...); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.exited = make(chan struct{})
	ready := make(chan struct{}, 1)
	go p.readLog(stderr, ready)
	select {
	case <-ready:
	case <-p.exited:
		p.t.Fatalf("%s exited before serving:\n%s", p.name, p.Logs())
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("%s did not serve within 2 minutes:\n%s", p.name, p.Logs())
	}
}

// readLog keeps the log and signals ready at the "<name> serving" line;
// the pipe must be drained or the process would block on it.
func (p *Process) readLog(r io.Reader, ready chan<- struct{}) {
	defer close(p.exited)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.logs.WriteString(sc.Text() + "\n")
		p.mu.Unlock()
		var line struct{ Msg string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == p.name+" serving" {
			ready <- struct{}{}
		}
	}
}

// Kill9 kills the process with SIGKILL, as a crash does, and waits until
// it is gone.
func (p *Process) Kill9() {
	p.t.Helper()
	p.kill()
}

func (p *Process) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	_ = p.cmd.Wait()
}

// Logs returns what the process has logged.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}
