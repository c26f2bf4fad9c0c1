package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit/corekittest"
)

// The crash test: clients write distinct keys to a store process, the
// process is killed with SIGKILL while writes are in flight, and a new
// process on the same data must hold every write that was acknowledged,
// with the value acknowledged.
const (
	crashClients = 8
	// crashAfter is how many acknowledged writes trigger the kill. It is a
	// count, not a time, so the test does not depend on the machine's speed.
	crashAfter = 400
)

func TestCrashPebble(t *testing.T) {
	bin := buildStore(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	crashTest(t, bin, "--backend", "pebble", "--data-dir", dataDir)
}

func TestCrashCockroach(t *testing.T) {
	dsn := os.Getenv("MICRO_TEST_POSTGRES_DSN")
	if dsn == "" {
		if testing.Short() {
			t.Skip("-short: skipping a test that needs PostgreSQL")
		}
		t.Fatal("MICRO_TEST_POSTGRES_DSN is not set; run the tests through scripts/with-postgres.sh")
	}
	bin := buildStore(t)
	crashTest(t, bin, "--backend", "cockroach", "--dsn", freshDatabase(t, dsn))
}

// crashTest runs the store binary with backendArgs, writes, kills it,
// restarts it and checks the acknowledged writes.
func crashTest(t *testing.T, bin string, backendArgs ...string) {
	ca := mtlstest.NewCA(t)
	args := append(corekittest.CertFlags(t, ca, "store"), "--address", "127.0.0.1:0")
	args = append(args, backendArgs...)
	// The writer is a core service, which needs no token: the test runs
	// no auth service.
	clientBundle := mtlstest.Bundle(t, ca, "micro", "config")

	first := startStore(t, bin, args)
	acked := writeUntilKilled(t, dial(t, first.address, clientBundle), first)
	t.Logf("%d writes acknowledged before the kill", len(acked))

	second := startStore(t, bin, args)
	client := dial(t, second.address, clientBundle)
	missing := 0
	for key, value := range acked {
		resp, err := client.Read(t.Context(), &storev1.ReadRequest{Key: key})
		switch {
		case err != nil:
			missing++
			t.Errorf("Read(%s) after restart = %v, want the acknowledged write", key, err)
		case string(resp.GetRecords()[0].GetValue()) != value:
			t.Errorf("Read(%s) after restart = %q, want %q", key, resp.GetRecords()[0].GetValue(), value)
		}
		if missing > 10 {
			t.Fatalf("more than 10 acknowledged writes lost; stopping")
		}
	}
}

// writeUntilKilled runs the clients against the store until it dies, kills
// it once crashAfter writes are acknowledged, and returns those writes.
func writeUntilKilled(t *testing.T, client storev1.StoreServiceClient, p *storeProcess) map[string]string {
	t.Helper()
	var (
		mu    sync.Mutex
		acked = make(map[string]string)
		kill  sync.Once
		wg    sync.WaitGroup
	)
	for c := range crashClients {
		wg.Go(func() {
			for n := 0; ; n++ {
				key, value := fmt.Sprintf("w%d/%06d", c, n), fmt.Sprintf("value-%d-%d-%s", c, n, rand.Text())
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := client.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: []byte(value)}})
				cancel()
				if err != nil {
					return // the process is gone; this write may or may not have landed
				}
				mu.Lock()
				acked[key] = value
				enough := len(acked) >= crashAfter
				mu.Unlock()
				if enough {
					kill.Do(p.kill)
				}
			}
		})
	}
	wg.Wait()
	if !p.killed.Load() {
		t.Fatalf("every client failed before %d writes were acknowledged; store log:\n%s", crashAfter, p.log())
	}
	return acked
}

// storeProcess is a running store binary.
type storeProcess struct {
	t       *testing.T
	cmd     *exec.Cmd
	address string
	killed  atomic.Bool
	exited  chan struct{}

	mu   sync.Mutex
	logs strings.Builder
}

// startStore starts the binary with args and waits until it serves.
func startStore(t *testing.T, bin string, args []string) *storeProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("stderr pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &storeProcess{t: t, cmd: cmd, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go p.readLog(stderr, ready)
	t.Cleanup(func() {
		if !p.killed.Load() {
			p.kill()
		}
	})
	select {
	case p.address = <-ready:
		return p
	case <-p.exited:
		t.Fatalf("store exited before serving:\n%s", p.log())
	case <-time.After(2 * time.Minute):
		t.Fatalf("store did not report serving within 2 minutes:\n%s", p.log())
	}
	return nil
}

// readLog keeps the process's log and sends the address it serves on to
// ready; the pipe must be drained or the process would block on it.
func (p *storeProcess) readLog(r io.Reader, ready chan<- string) {
	defer close(p.exited)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.logs.WriteString(sc.Text() + "\n")
		p.mu.Unlock()
		var line struct{ Msg, Address string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "store serving" {
			ready <- line.Address
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone. Wait closes
// the log pipe, so it comes after the log is read to its end.
func (p *storeProcess) kill() {
	p.killed.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.exited
	_ = p.cmd.Wait()
}

// log returns what the process has logged.
func (p *storeProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// buildStore builds this command into a temporary directory.
func buildStore(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "store")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freshDatabase creates a database of the test's own on the server at dsn,
// so that the binary's default table names collide with nothing, and
// returns its DSN. The database is dropped when the test ends.
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("MICRO_TEST_POSTGRES_DSN must be a URL: %v", err)
	}
	name := "crash_" + strings.ToLower(rand.Text()[:10])
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
