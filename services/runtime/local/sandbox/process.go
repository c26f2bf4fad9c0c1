package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec describes one process to start.
type Spec struct {
	// Namespace is whose process it is.
	Namespace *Namespace
	// Name names the process within the namespace (an instance such as
	// "hello-0", or a build such as "build-hello"). It names the private
	// HOME and TMPDIR (home/<name>, tmp/<name> under Namespace.Dir) and the
	// pid file, so two live processes of a namespace must not share it.
	Name string
	// Path is the program, an absolute path readable by the namespace.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Dir is the working directory; empty means the private HOME.
	Dir string
	// Env holds KEY=VALUE pairs added to PATH; HOME and TMPDIR are always
	// the private ones. Nothing else of the server's environment is passed.
	Env []string
	// Stdout and Stderr receive the process's output; nil discards it.
	// Stdin is always empty.
	Stdout, Stderr io.Writer
}

// Process is a started process group.
type Process struct {
	pid   int
	done  chan struct{}
	mu    sync.Mutex
	state *os.ProcessState
	err   error
}

// Start starts the process described by spec as the leader of a new
// process group, under the namespace's uid when the sandbox isolates.
func (s *Sandbox) Start(spec Spec) (*Process, error) {
	cmd, err := s.command(spec)
	if err != nil {
		return nil, err
	}
	p := &Process{done: make(chan struct{})}
	started := make(chan error, 1)
	pidFile := filepath.Join(s.cfg.Dir, "run", spec.Namespace.Name+"."+spec.Name+".pid")
	go p.run(cmd, pidFile, spec.Namespace.owner(spec.Namespace.UID), started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s/%s: %w", spec.Namespace.Name, spec.Name, err)
	}
	return p, nil
}

// command builds the exec.Cmd from nothing.
func (s *Sandbox) command(spec Spec) (*exec.Cmd, error) {
	n := spec.Namespace
	switch {
	case n == nil:
		return nil, errors.New("start: no namespace")
	case !processName.MatchString(spec.Name):
		return nil, fmt.Errorf("process %q: %w", spec.Name, ErrInvalidName)
	case !filepath.IsAbs(spec.Path):
		return nil, fmt.Errorf("start %s/%s: program %q is not an absolute path", n.Name, spec.Name, spec.Path)
	}
	home, err := n.Mkdir("home/" + spec.Name)
	if err != nil {
		return nil, err
	}
	tmp, err := n.Mkdir("tmp/" + spec.Name)
	if err != nil {
		return nil, err
	}
	env, err := buildEnv(s.cfg.Path, spec.Env, home, tmp)
	if err != nil {
		return nil, fmt.Errorf("start %s/%s: %w", n.Name, spec.Name, err)
	}
	cmd := &exec.Cmd{
		Path: spec.Path, Args: append([]string{spec.Path}, spec.Args...), Env: env, Dir: spec.Dir,
		Stdout: spec.Stdout, Stderr: spec.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		// Output pipes held open by a leftover grandchild must not keep
		// Wait from returning once the leader is gone.
		WaitDelay: 2 * time.Second,
	}
	if cmd.Dir == "" {
		cmd.Dir = home
	}
	if s.isolate {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: n.UID, Gid: n.GID, Groups: []uint32{}}
	}
	return cmd, nil
}

// buildEnv returns PATH, then the caller's pairs, then HOME and TMPDIR,
// which therefore win over any the caller passed.
func buildEnv(pathVar string, extra []string, home, tmp string) ([]string, error) {
	env := []string{"PATH=" + pathVar}
	for _, kv := range extra {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("environment entry %q is not KEY=VALUE", kv)
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "TMPDIR="+tmp), nil
}

// run starts cmd and waits for it, on a goroutine locked to its OS thread
// for the child's whole life: Pdeathsig fires when the thread that started
// the child exits, and a locked thread is never retired by the Go runtime
// while its goroutine runs. When the leader is gone, the rest of its group
// is killed too, so a service never leaves background children behind.
func (p *Process) run(cmd *exec.Cmd, pidFile string, uid int, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	p.pid = cmd.Process.Pid
	err := writePidFile(pidFile, p.pid, uid)
	if err != nil {
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	started <- err
	waitErr := cmd.Wait()
	syscall.Kill(-p.pid, syscall.SIGKILL)
	os.Remove(pidFile)
	p.mu.Lock()
	p.state, p.err = cmd.ProcessState, waitErr
	close(p.done)
	p.mu.Unlock()
}

// Pid returns the process id of the group's leader, which is also the
// process group id.
func (p *Process) Pid() int { return p.pid }

// Done is closed once the leader has exited and its group was killed.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for Done and returns how the leader ended. The error is
// exec's (an *exec.ExitError for a non-zero exit), and the state is nil
// only if the process could not be waited for.
func (p *Process) Wait() (*os.ProcessState, error) {
	<-p.done
	return p.state, p.err
}

// Signal sends sig to the whole process group. It returns os.ErrProcessDone
// once the leader has exited, so a recycled group id is never signalled.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal group %d: %w", p.pid, err)
	}
	return nil
}

// Stop sends SIGTERM to the process group, waits up to grace for the
// leader to exit, then sends SIGKILL to the group, and returns once the
// leader is gone.
func (p *Process) Stop(grace time.Duration) {
	p.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return
	case <-timer.C:
	}
	p.Signal(syscall.SIGKILL)
	<-p.done
}
