package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// deployTimeout bounds one micro run or update: the first build of a fresh
// namespace compiles gRPC and the SDK, which takes minutes on a loaded
// machine.
const deployTimeout = 20 * time.Minute

// The tenant of the runtime journey: services never run in micro.
const (
	tenantNamespace = "brave-otter-lamp"
	tenantAccount   = "dev@example.com"
	tenantPassword  = "dev-password-1"
)

// TestRuntimeJourney is DESIGN's third journey as a new user lives it, on
// one server, so that the skeleton's first, slow build happens once:
// micro new, run, status, call, logs, config, an update under a loop of
// calls, services that fail to build and to start, a git source, a server
// restart, and kill.
func TestRuntimeJourney(t *testing.T) {
	p := newPlatform(t, "--allow-local-git")
	p.extraEnv = goCaches(t)
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	p.must("auth", "accounts", "create", tenantAccount, "--namespace", tenantNamespace, "--roles", "developer", "--password", tenantPassword)
	login(t, p, tenantNamespace, tenantAccount, tenantPassword)

	work := t.TempDir()
	hello := filepath.Join(work, "hello")
	t.Run("new", func(t *testing.T) { newSteps(t, p, work) })
	t.Run("run", func(t *testing.T) { runSteps(t, p, hello) })
	t.Run("config", func(t *testing.T) { configGreeting(t, p) })
	t.Run("update under load", func(t *testing.T) { updateUnderLoad(t, p, hello) })
	t.Run("rollback", func(t *testing.T) { rollbackSteps(t, p) })
	t.Run("logs follow", func(t *testing.T) { followLogs(t, p) })
	t.Run("failures", func(t *testing.T) { failureSteps(t, p, work) })
	t.Run("git", func(t *testing.T) { gitSteps(t, p, work) })
	t.Run("json", func(t *testing.T) { runtimeJSON(t, p, work) })
	t.Run("restart", func(t *testing.T) { restartSteps(t, p) })
	t.Run("kill", func(t *testing.T) { killSteps(t, p) })
}

// goCaches points the server's builds and the test's `go build` at this
// machine's Go caches, as a developer's own would be: the runtime seeds
// its builds' module proxy from the module cache, and builds need no
// network.
func goCaches(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 2 {
		t.Fatalf("go env GOMODCACHE GOCACHE = %q", out)
	}
	return []string{"GOMODCACHE=" + dirs[0], "GOCACHE=" + dirs[1]}
}

// newSteps writes the skeleton and builds it offline with go build.
func newSteps(t *testing.T, p *platform, work string) {
	out := p.must("new", "hello", "--dir", filepath.Join(work, "hello"))
	for _, f := range []string{"go.mod", "main.go", "handler/handler.go", "proto/hello.proto", "proto/hello.pb.go", "proto/hello_grpc.pb.go", "README.md", "Makefile"} {
		if !strings.Contains(out, "  "+f+"\n") {
			t.Errorf("micro new hello listed no %s: %q", f, out)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "hello"), ".")
	build.Dir = filepath.Join(work, "hello")
	build.Env = append(p.env(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the skeleton, offline: %v\n%s", err, out)
	}
}

// runSteps runs the skeleton and checks status, a call and the logs.
func runSteps(t *testing.T, p *platform, hello string) {
	r := p.microIn(invocation{dir: hello, timeout: deployTimeout}, "run", ".")
	// Running means registered, so the registry names the method to call.
	if r.code != 0 || r.stdout != "hello is running (1/1 instances). Call it with 'micro call hello Hello.Call JSON'.\n" {
		t.Fatalf("micro run . = exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	status := p.must("status")
	if !regexp.MustCompile(`(?m)^hello +latest +src-\S+ +running +1/1 +`).MatchString(status) {
		t.Errorf("micro status = %q, want hello running 1/1", status)
	}
	if got := greet(t, p, "hello"); got != "Hello Ann" {
		t.Errorf("micro call hello Hello.Call = %q, want Hello Ann", got)
	}
	// The service's own refusal, through the proxy, is said to be its own.
	if r := p.micro("", "call", "hello", "Hello.Call", "{}"); r.code != 1 || r.stderr != "Service 'hello' answered InvalidArgument: name is required.\n" {
		t.Errorf("micro call hello Hello.Call {} = exit %d, stderr %q, want 1 and the service's refusal", r.code, r.stderr)
	}
	if got := greetOverHTTP(t, p); got != "Hello Ann" {
		t.Errorf("POST /v1/call/hello/Hello.Call = %q, want Hello Ann", got)
	}
	if logs := p.must("logs", "hello"); !regexp.MustCompile(`(?m)^\[1\] .*msg=greeted .*name=Ann`).MatchString(logs) {
		t.Errorf("micro logs hello = %q, want instance 1's greeted line", logs)
	}
	if svcs := p.must("services"); !regexp.MustCompile(`(?m)^hello +latest +hello-1-\S+ +127\.0\.0\.1:\d+`).MatchString(svcs) {
		t.Errorf("micro services = %q, want hello's node", svcs)
	}
}

// greet calls hello's skeleton method for Ann and returns the message.
func greet(t *testing.T, p *platform, service string) string {
	t.Helper()
	out := p.must("call", service, "Hello.Call", `{"name":"Ann"}`)
	var resp struct{ Message string }
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("micro call %s = %q: %v", service, out, err)
	}
	return resp.Message
}

// greetOverHTTP calls hello's skeleton method for Ann as curl would,
// through the HTTP gateway with the tenant's token, and returns the
// message.
func greetOverHTTP(t *testing.T, p *platform) string {
	t.Helper()
	var login struct {
		Token struct {
			AccessToken string `json:"accessToken"`
		} `json:"token"`
	}
	base := "http://" + p.httpAddr
	creds := fmt.Sprintf(`{"id":%q,"secret":%q,"namespace":%q}`, tenantAccount, tenantPassword, tenantNamespace)
	if status := post(t, base+"/v1/auth/token", "", creds, &login); status != 200 {
		t.Fatalf("POST /v1/auth/token as %s = %d, want 200", tenantAccount, status)
	}
	var resp struct{ Message string }
	if status := post(t, base+"/v1/call/hello/Hello.Call", login.Token.AccessToken, `{"name":"Ann"}`, &resp); status != 200 {
		t.Fatalf("POST /v1/call/hello/Hello.Call = %d, want 200", status)
	}
	return resp.Message
}

// configGreeting sets the greeting in config, sees it in the answer, and
// removes it again.
func configGreeting(t *testing.T, p *platform) {
	p.must("config", "set", "hello.greeting", "Howdy")
	if got := greet(t, p, "hello"); got != "Howdy Ann" {
		t.Errorf("call with hello.greeting set = %q, want Howdy Ann", got)
	}
	p.must("config", "del", "hello.greeting")
	if got := greet(t, p, "hello"); got != "Hello Ann" {
		t.Errorf("call with hello.greeting deleted = %q, want Hello Ann", got)
	}
}

// killSteps kills hello; then it is not found, by status or by call.
func killSteps(t *testing.T, p *platform) {
	if out := p.must("kill", "hello"); !strings.Contains(out, "Killed hello") {
		t.Errorf("micro kill hello = %q", out)
	}
	p.exits(exitNotFound, "status", "hello")
	r := p.exits(exitNotFound, "call", "hello", "Hello.Call", `{"name":"Ann"}`)
	if !strings.Contains(r.stderr, fmt.Sprintf("service %q is not running in namespace %q", "hello", tenantNamespace)) {
		t.Errorf("call after kill: stderr = %q, want the service named as not running", r.stderr)
	}
}

// editFile replaces old with new in a file, which must hold old.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s holds no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
