package skeleton_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"m3o.dev/cli/internal/skeleton"
	"m3o.dev/pkg/invoke"
)

// TestSkeletonBuildsAndAnswers writes the skeleton of several names, builds
// and tests each offline with `go build` and `go test` (no module proxy,
// go.mod and go.sum as written), runs it standalone and calls it through server reflection,
// which serves the descriptor compiled into the generated code.
func TestSkeletonBuildsAndAnswers(t *testing.T) {
	sdk, err := skeleton.InstallSDK(filepath.Join(t.TempDir(), "sdk"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, method string }{
		{"hello", "Hello.Call"},
		{"my-svc", "MySvc.Call"},
		{"log", "Log.Call"}, // a module path that is also a standard package's
		{"a1-b2", "A1B2.Call"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.name)
			res, err := skeleton.Write(skeleton.Options{Name: tc.name, Dir: dir, SDKDir: sdk})
			if err != nil {
				t.Fatalf("Write(%s) = %v", tc.name, err)
			}
			if res.Method != tc.method {
				t.Errorf("Write(%s).Method = %q, want %q", tc.name, res.Method, tc.method)
			}
			bin := filepath.Join(t.TempDir(), tc.name)
			goCmd(t, dir, "build", "-o", bin, ".")
			goCmd(t, dir, "vet", "./...")
			goCmd(t, dir, "test", "./...")
			addr := startStandalone(t, bin)
			if got := call(t, addr, tc.method, `{"name":"Ann"}`); got != "{\n  \"message\": \"Hello Ann\"\n}" {
				t.Errorf("%s %s = %q, want the message Hello Ann", tc.name, tc.method, got)
			}
		})
	}
}

// goCmd runs the go command offline in dir: no module proxy, and go.mod
// may not change.
func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(withoutMicro(), "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
}

// withoutMicro is the environment without the platform's variables, so
// that a service runs standalone.
func withoutMicro() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MICRO_") && !strings.HasPrefix(kv, "GOWORK=") {
			env = append(env, kv)
		}
	}
	return env
}

// standaloneAddress finds the address in the SDK's first log line.
var standaloneAddress = regexp.MustCompile(`serving standalone.* address=(\S+)`)

// startStandalone runs the service until the test ends and returns the
// address its log names.
func startStandalone(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(withoutMicro(), "MICRO_ADDRESS=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := standaloneAddress.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case addr := <-found:
		return addr
	case <-time.After(time.Minute):
		t.Fatalf("%s logged no address within a minute", bin)
	}
	return ""
}

// call calls method through reflection and returns the response.
func call(t *testing.T, addr, method, request string) string {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := invoke.New(cc, nil)
	m, err := c.Resolve(ctx, method)
	if err != nil {
		t.Fatalf("Resolve(%s) = %v", method, err)
	}
	var got string
	if err := c.Call(ctx, m, []byte(request), func(b []byte) error { got = string(b); return nil }); err != nil {
		t.Fatalf("Call(%s) = %v", method, err)
	}
	return got
}
