// Package billingtest holds the real parts that billing's tests, the
// proxy's and the CLI's end-to-end tests run against: stripe-mock, built
// from its Go module and started on a free port; a recording proxy in front
// of it, so tests can check what was asked of Stripe; signed webhook events;
// and headless Chromium driving the subscribe page.
//
// It is imported by tests only, so that neither stripe-mock's process
// handling nor chromedp ends up in a production binary.
package billingtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StripeMockEnv names a stripe-mock binary to use instead of building one.
const StripeMockEnv = "MICRO_TEST_STRIPE_MOCK"

// startTimeout bounds building and starting stripe-mock.
const startTimeout = 5 * time.Minute

// StripeMock is a stripe-mock server started for one test.
type StripeMock struct {
	// URL is its HTTP base URL, for stripe.Options.URL.
	URL string
}

// StartStripeMock starts stripe-mock on a free loopback port until the test
// ends. The binary is $MICRO_TEST_STRIPE_MOCK, or built once from the
// pinned module in scripts/stripemock into .cache/bin. A failure to build or
// start it fails the test: the tests that need it never skip.
func StartStripeMock(t testing.TB) *StripeMock {
	t.Helper()
	bin, err := stripeMockBinary()
	if err != nil {
		t.Fatalf("stripe-mock: %v", err)
	}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	addr, err := listening(out, "Listening for HTTP at address: ")
	if err != nil {
		t.Fatalf("stripe-mock did not start: %v", err)
	}
	return &StripeMock{URL: "http://" + addr}
}

// listening reads stripe-mock's output until the line that starts with
// prefix and returns the rest of it; the remaining output is drained so the
// process never blocks on a full pipe.
func listening(r io.Reader, prefix string) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				found <- strings.TrimSpace(addr)
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", fmt.Errorf("it exited without listening")
		}
		return addr, nil
	case <-time.After(startTimeout):
		return "", fmt.Errorf("no %q line after %s", prefix, startTimeout)
	}
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// stripeMockBinary returns the stripe-mock to run, building it on first use.
func stripeMockBinary() (string, error) {
	if bin := os.Getenv(StripeMockEnv); bin != "" {
		return bin, nil
	}
	buildOnce.Do(func() { built, buildErr = buildStripeMock() })
	return built, buildErr
}

// buildStripeMock installs the tools module of scripts/stripemock into the
// repository's .cache/bin, where scripts/tools.sh puts the other tools.
func buildStripeMock() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".cache", "bin")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "tool")
	cmd.Dir = filepath.Join(root, "scripts", "stripemock")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build from scripts/stripemock: %w\n%s", err, out)
	}
	return filepath.Join(bin, "stripe-mock"), nil
}

// repoRoot finds the repository from the test's working directory: the
// directory that holds go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work above the working directory; set %s", StripeMockEnv)
		}
		dir = parent
	}
}
