package k8stest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one control-plane binary running in its own process group.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	// done is closed when the process has exited; err is then its result.
	done chan struct{}
	err  error
}

// spawner starts every child of a cluster from one goroutine locked to one
// OS thread that lives as long as the cluster. Pdeathsig fires when the
// thread that started a child dies, not the process: a child started from
// an ordinary goroutine could be killed when the runtime retires that
// thread, while here the thread dies only with the test binary, or after
// Stop, when the children are already gone.
type spawner struct {
	reqs chan *exec.Cmd
	errs chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan *exec.Cmd), errs: make(chan error)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		for cmd := range s.reqs {
			s.errs <- cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	s.reqs <- cmd
	return <-s.errs
}

func (s *spawner) close() { close(s.reqs) }

// run starts bin with args in dir, its output in dir/<name>.log. The child
// gets an environment of its own, its own process group, and SIGKILL when
// the test binary dies, however it dies.
func (s *spawner) run(dir, name, bin string, args []string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "TMPDIR=" + dir, "PATH=/usr/local/bin:/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, and SIGKILL if it is still there
// after grace.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// failure describes why the process ended, with the end of its log.
func (p *process) failure() error {
	return fmt.Errorf("%s exited (%v); the end of %s:\n%s", p.name, p.err, p.log, tail(p.log, 4096))
}

// portInUse reports whether the process ended because a port it was given
// was taken in the meantime, in which case it is started again on others.
func (p *process) portInUse() bool {
	return p.exited() && strings.Contains(tail(p.log, 16384), "address already in use")
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

// freePort returns a loopback port that was free a moment ago, for a child
// that binds its own listeners. Another process may take it before the
// child binds it; the caller then starts the child again (portInUse).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct free ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	for len(ports) < n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// loopback is the URL of a loopback port.
func loopback(scheme string, port int) string {
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// errPortInUse marks a start that lost a port to another process.
var errPortInUse = errors.New("a port was taken before the process bound it")
