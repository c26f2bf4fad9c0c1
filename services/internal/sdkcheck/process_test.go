package sdkcheck_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/service/servicetest/hellopb"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/coretest"
)

// TestSIGTERM runs hello as a real process, as the runtime does, holds a
// call in flight through the proxy and sends SIGTERM: the node must leave
// the registry while the process still runs and the call is still held;
// then the call completes, and the process exits 0.
func TestSIGTERM(t *testing.T) {
	bin := buildHello(t)
	e := newEnv(t)
	alice := e.account(t, tenantA, "alice")
	p := e.start(t, bin, tenantA, "Hello from a process")
	resp, err := e.hello().Call(alice.to("hello"), &hellopb.CallRequest{Name: "Ann"})
	if err != nil || resp.GetMessage() != "Hello from a process Ann" {
		t.Fatalf("Call(Ann) = %v, %v, want the process's greeting", resp, err)
	}
	held := make(chan error, 1)
	go func() {
		_, err := e.hello().Hold(alice.to("hello"), &hellopb.HoldRequest{Name: "in-flight"})
		held <- err
	}()
	coretest.Eventually(t, "the call is held", func() error { return exists(filepath.Join(p.holdDir, "held")) })

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	e.waitGone(t, tenantA, p.node)
	select {
	case <-p.exited:
		t.Fatalf("process exited (%v) before the held call was let go; log:\n%s", p.err, p.logs)
	case err := <-held:
		t.Fatalf("held call ended with %v before it was let go", err)
	default: // deregistered, still running, call still in flight
	}
	if err := os.WriteFile(filepath.Join(p.holdDir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-held; err != nil {
		t.Errorf("in-flight call = %v, want it to complete", err)
	}
	<-p.exited
	if p.err != nil {
		t.Errorf("process exit = %v, want status 0; log:\n%s", p.err, p.logs)
	}
	log := p.logs.String()
	if d, s := strings.Index(log, "msg=deregistered"), strings.Index(log, "msg=stopped"); d < 0 || s < d {
		t.Errorf("log does not say deregistered, then stopped:\n%s", log)
	}
}

// TestLeaseExpires kills hello with SIGKILL, so that it cannot deregister:
// its node must leave the registry once its lease runs out.
func TestLeaseExpires(t *testing.T) {
	bin := buildHello(t)
	e := newEnv(t)
	p := e.start(t, bin, tenantA, "Hello")
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-p.exited
	e.waitGone(t, tenantA, p.node)
}

// process is hello running as a process of its own.
type process struct {
	cmd     *exec.Cmd
	holdDir string
	node    *registryv1.Node
	logs    *syncBuffer
	exited  chan struct{}
	err     error // what Wait returned, once exited is closed
}

// start runs bin as the runtime would run an instance of ns/hello, until
// the test ends, and returns once the registry lists it.
func (e *env) start(t *testing.T, bin, ns, text string) *process {
	t.Helper()
	p := &process{holdDir: t.TempDir(), logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(e.InstanceEnv(t, ns, "hello").Environ(), "HELLO_TEXT="+text, "HOLD_DIR="+p.holdDir)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	p.node = e.waitListed(t, ns, "hello", func(*registryv1.Node) bool { return true })
	return p
}

// waitGone polls the registry until it no longer lists node.
func (e *env) waitGone(t *testing.T, ns string, node *registryv1.Node) {
	t.Helper()
	coretest.Eventually(t, "node "+node.GetId()+" leaves the registry", func() error {
		nodes, err := e.nodes(t.Context(), ns, "hello")
		if status.Code(err) == codes.NotFound {
			return nil // the service's last node is gone
		}
		for _, n := range nodes {
			if n.GetId() == node.GetId() {
				return errors.New("still listed")
			}
		}
		return err
	})
}

// buildHello builds testdata/hello into a temporary directory.
func buildHello(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hello")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/hello").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func exists(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no %s yet", filepath.Base(path))
	}
	return nil
}
