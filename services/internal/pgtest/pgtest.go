// Package pgtest runs a throwaway PostgreSQL server of a test's own, for
// tests that stop and start the database under the platform; tests that
// only need a database use the shared server of MICRO_TEST_POSTGRES_DSN.
// It uses the PostgreSQL binaries on the machine (15 or later), and runs
// the server as the postgres user when the test runs as root, as
// PostgreSQL requires.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Server is a PostgreSQL server in a temporary directory.
type Server struct {
	t    testing.TB
	dir  string
	port int
}

// Start initialises and starts a server on a free loopback port; it is
// stopped and removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return startOn(t, freePort(t))
}

// startOn is Start trying port first.
func startOn(t testing.TB, port int) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir, port: port}
	t.Cleanup(func() {
		_ = s.ctl("-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if err := s.ownDir(); err != nil {
		t.Fatal(err)
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.startOnFreePort()
	return s
}

// portAttempts is how often Start tries fresh ports: another process can
// take a free port between our choosing it and PostgreSQL binding it.
const portAttempts = 5

// startOnFreePort starts the server, on another port while the one chosen
// turns out to be taken.
func (s *Server) startOnFreePort() {
	s.t.Helper()
	for attempt := 1; ; attempt++ {
		err := s.start()
		if err == nil {
			return
		}
		if attempt == portAttempts || !strings.Contains(err.Error(), "Address already in use") {
			s.t.Fatalf("pg_ctl start: %v", err)
		}
		s.port = freePort(s.t)
	}
}

// DSN is the server's connection string.
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// StopFast stops the server as an operator's restart does: a fast
// shutdown, which ends every connection and its open transactions.
func (s *Server) StopFast() {
	s.t.Helper()
	if err := s.ctl("-m", "fast", "-w", "stop"); err != nil {
		s.t.Fatalf("pg_ctl stop: %v", err)
	}
}

// StartAgain starts the stopped server on the same port and data.
func (s *Server) StartAgain() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("pg_ctl start: %v", err)
	}
}

// start starts the server on s.port; its error carries the server's log.
func (s *Server) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=on", s.port, s.dir)
	logFile := filepath.Join(s.dir, "server.log")
	os.Remove(logFile)
	if err := s.ctl("-l", logFile, "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) ctl(args ...string) error {
	out, err := s.run("pg_ctl", append([]string{"-D", s.data()}, args...)...)
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// run runs a PostgreSQL binary, as postgres when the test runs as root.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	bin, err := binary(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return cmd.CombinedOutput()
}

// ownDir gives the directory to the postgres user when running as root.
func (s *Server) ownDir() error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(s.dir, uid, gid)
}

// binary finds a PostgreSQL binary in Debian's versioned directories or
// on PATH.
func binary(name string) (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if p := filepath.Join(dirs[i], name); isExecutable(p) {
			return p, nil
		}
	}
	return exec.LookPath(name)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&0o111 != 0
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
