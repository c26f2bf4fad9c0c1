package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// minCalls is how many calls the loop makes across an update, at least.
const minCalls = 200

// loopResult is what a loop of calls saw: each answer in order, and the
// failures.
type loopResult struct {
	answers  []string
	failures []string
}

// callLoop calls hello until stop is closed and it has made at least
// minCalls calls.
func callLoop(p *platform, stop <-chan struct{}) loopResult {
	var res loopResult
	for {
		select {
		case <-stop:
			if len(res.answers)+len(res.failures) >= minCalls {
				return res
			}
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, p.bin, "call", "hello", "Hello.Call", `{"name":"Ann"}`)
		cmd.Env = p.env()
		out, err := cmd.CombinedOutput()
		cancel()
		var resp struct{ Message string }
		if err != nil || json.Unmarshal(out, &resp) != nil {
			res.failures = append(res.failures, strings.TrimSpace(string(out))+" ("+errString(err)+")")
			continue
		}
		res.answers = append(res.answers, resp.Message)
	}
}

func errString(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// updateUnderLoad changes the greeting and updates hello while a loop of
// calls runs across the whole update: no call may fail, and the loop sees
// the old answer, then the new one.
func updateUnderLoad(t *testing.T, p *platform, hello string) {
	editFile(t, filepath.Join(hello, "handler", "handler.go"), `const DefaultGreeting = "Hello"`, `const DefaultGreeting = "Hi"`)
	stop, done := make(chan struct{}), make(chan loopResult)
	go func() { done <- callLoop(p, stop) }()
	r := p.microIn(invocation{dir: hello, timeout: deployTimeout}, "--output", "json", "update", ".")
	close(stop)
	res := <-done
	var out struct{ Service serviceJSON }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Service.Status != "running" {
		t.Fatalf("micro -o json update . = exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if len(res.failures) > 0 {
		t.Errorf("%d of %d calls failed across the update; the first: %s", len(res.failures), len(res.failures)+len(res.answers), res.failures[0])
	}
	if len(res.answers)+len(res.failures) < minCalls {
		t.Errorf("the loop made %d calls, want at least %d", len(res.answers)+len(res.failures), minCalls)
	}
	firstOld, firstNew := index(res.answers, "Hello Ann"), index(res.answers, "Hi Ann")
	if firstOld < 0 || firstNew < firstOld || res.answers[len(res.answers)-1] != "Hi Ann" {
		t.Errorf("the loop's answers went %s, want Hello Ann first and Hi Ann from some call on", summary(res.answers))
	}
	t.Logf("update under load: %d calls, %d answered by the old version", len(res.answers), firstNew)
}

// rollbackSteps runs hello's first upload again by the id status lists,
// as after a bad release, and then the newest again.
func rollbackSteps(t *testing.T, p *platform) {
	var out struct {
		Services []struct {
			Sources []struct {
				ID      string
				Running bool
			}
		}
	}
	if err := json.Unmarshal([]byte(p.must("--output", "json", "status", "hello")), &out); err != nil || len(out.Services) != 1 {
		t.Fatalf("micro -o json status hello: %v, %+v", err, out)
	}
	kept := out.Services[0].Sources
	if len(kept) != 2 || !kept[0].Running {
		t.Fatalf("hello's kept sources = %+v, want its two uploads, the newest running", kept)
	}
	for _, step := range []struct{ id, greeting string }{{kept[1].ID, "Hello Ann"}, {kept[0].ID, "Hi Ann"}} {
		r := p.microIn(invocation{timeout: deployTimeout}, "update", "hello", step.id)
		if r.code != 0 {
			t.Fatalf("micro update hello %s = exit %d\nstdout: %s\nstderr: %s", step.id, r.code, r.stdout, r.stderr)
		}
		if got := greet(t, p, "hello"); got != step.greeting {
			t.Errorf("after micro update hello %s the call answers %q, want %q", step.id, got, step.greeting)
		}
	}
}

// serviceJSON is a service in the JSON output of run, update and status.
type serviceJSON struct {
	Name      string
	Status    string
	Error     string
	Instances struct{ Running, Desired int }
}

func index(answers []string, want string) int {
	for i, a := range answers {
		if a == want {
			return i
		}
	}
	return -1
}

// summary shows a sequence of answers as runs: "Hello Ann ×40, Hi Ann ×160".
func summary(answers []string) string {
	var parts []string
	for i := 0; i < len(answers); {
		j := i
		for j < len(answers) && answers[j] == answers[i] {
			j++
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", answers[i], j-i))
		i = j
	}
	return strings.Join(parts, ", ")
}

// followLogs follows hello's logs, sees the line of a call made after it
// started, and stops on Ctrl-C with exit 0.
func followLogs(t *testing.T, p *platform) {
	cmd := exec.Command(p.bin, "logs", "-f", "-n", "1", "hello")
	cmd.Env = p.env()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "name=Follower") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("micro logs -f showed no line of a call in 2 minutes: %q", out.String())
		}
		p.must("call", "hello", "Hello.Call", `{"name":"Follower"}`)
		time.Sleep(500 * time.Millisecond)
	}
	// After the update the instance serving is a new one, numbered on
	// from the instances before it.
	if !regexp.MustCompile(`(?m)^\[\d+\] .*name=Follower`).MatchString(out.String()) {
		t.Errorf("micro logs -f = %q, want lines after their instance's number", out.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("micro logs -f after Ctrl-C = %v, want exit 0\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Errorf("micro logs -f still runs a minute after Ctrl-C")
	}
}

// crashSteps checks what points a person at why crashy, which exits at
// once without a line, keeps crashing: run's failure, its logs and its
// status.
func crashSteps(t *testing.T, p *platform, runStderr string) {
	if want := "'micro logs crashy' prints what its instances wrote; 'micro status crashy' shows each one's restarts."; !strings.Contains(runStderr, want) {
		t.Errorf("micro run of crashy: stderr %q, want %q", runStderr, want)
	}
	want := "No lines from the instances of crashy; instance 1 last exited with exit status 1. 'micro status crashy' shows each one's restarts.\n"
	if r := p.micro("", "logs", "crashy"); r.code != 0 || r.stdout != "" || r.stderr != want {
		t.Errorf("micro logs crashy = exit %d, stdout %q, stderr %q; want 0, nothing and %q", r.code, r.stdout, r.stderr, want)
	}
	if out := p.must("status", "crashy"); !regexp.MustCompile(`(?m)^1 +1 +\S+ +\d+ +\S+ \S+ +exit status 1$`).MatchString(out) {
		t.Errorf("micro status crashy = %q, want its instance's row with its last exit", out)
	}
}

// failureSteps runs a service that exits 1 at start and one that does not
// compile: run exits 1 with the reason, and status shows error.
func failureSteps(t *testing.T, p *platform, work string) {
	crashy := filepath.Join(work, "crashy")
	p.must("new", "crashy", "--dir", crashy)
	editFile(t, filepath.Join(crashy, "main.go"), "\t\"log\"\n", "\t\"log\"\n\t\"os\"\n")
	editFile(t, filepath.Join(crashy, "main.go"), "func main() {\n", "func main() {\n\tos.Exit(1)\n")
	broken := filepath.Join(work, "broken")
	p.must("new", "broken", "--dir", broken)
	editFile(t, filepath.Join(broken, "handler", "handler.go"), "// New returns", "func broken() { undefinedThing() }\n\n// New returns")
	if r := p.exits(2, "run", crashy, "--instances", "11"); r.stderr != "--instances: must be at most 10.\n" {
		t.Errorf("micro run --instances 11: stderr %q, want the flag named", r.stderr)
	}
	for _, tc := range []struct{ name, dir, reason string }{
		{"crashy", crashy, "exit status 1"},
		{"broken", broken, "undefined: undefinedThing"},
	} {
		r := p.microIn(invocation{dir: tc.dir, timeout: deployTimeout}, "run", ".")
		if r.code != 1 || !strings.Contains(r.stderr, "'micro run "+tc.name+"' failed") || !strings.Contains(r.stderr, tc.reason) {
			t.Errorf("micro run of %s = exit %d, stderr %q; want 1 and the reason %q", tc.name, r.code, r.stderr, tc.reason)
		}
		var out struct{ Services []serviceJSON }
		if err := json.Unmarshal([]byte(p.must("status", tc.name, "-o", "json")), &out); err != nil || len(out.Services) != 1 ||
			out.Services[0].Status != "error" || !strings.Contains(out.Services[0].Error, tc.reason) {
			t.Errorf("micro status %s = %+v (%v), want error with the reason %q", tc.name, out.Services, err, tc.reason)
		}
		if tc.name == "crashy" {
			crashSteps(t, p, r.stderr)
		}
		p.must("kill", tc.name)
	}
}

// gitSteps runs a service from a local bare repository at its first
// commit, though a later one changed the greeting.
func gitSteps(t *testing.T, p *platform, work string) {
	src := filepath.Join(work, "githello")
	p.must("new", "githello", "--dir", src)
	greeting := filepath.Join(src, "handler", "handler.go")
	editFile(t, greeting, `const DefaultGreeting = "Hello"`, `const DefaultGreeting = "From git"`)
	git(t, src, "init", "-q", "-b", "main")
	git(t, src, "add", "-A")
	git(t, src, "commit", "-q", "-m", "first")
	first := git(t, src, "rev-parse", "HEAD")
	editFile(t, greeting, `"From git"`, `"Later"`)
	git(t, src, "commit", "-q", "-am", "second")
	bare := filepath.Join(work, "githello.git")
	git(t, work, "clone", "-q", "--bare", src, bare)

	r := p.microIn(invocation{timeout: deployTimeout}, "-o", "json", "run", "file://"+bare+"@"+first)
	var out struct{ Service serviceJSON }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Service.Name != "githello" || out.Service.Status != "running" {
		t.Fatalf("micro -o json run file://…/githello.git@%s = exit %d\nstdout: %s\nstderr: %s", first, r.code, r.stdout, r.stderr)
	}
	resp := p.must("call", "githello", "Githello.Call", `{"name":"Ann"}`)
	if !strings.Contains(resp, `"message": "From git Ann"`) {
		t.Errorf("call of the service built at the first commit = %q, want From git Ann", resp)
	}
	p.must("kill", "githello")
}

// git runs git in dir and returns its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// runtimeJSON checks the JSON output of the runtime's commands, success
// and failure, against the running hello; run and update succeed as JSON
// in the steps before.
func runtimeJSON(t *testing.T, p *platform, work string) {
	for _, s := range []struct {
		code int
		args []string
	}{
		{0, []string{"status"}},
		{0, []string{"status", "hello"}},
		{0, []string{"logs", "hello"}},
		{0, []string{"logs", "hello", "--build"}},
		{0, []string{"call", "hello", "Hello.Call", `{"name":"Ann"}`}},
		{0, []string{"services"}},
		{0, []string{"new", "other", "--dir", filepath.Join(work, "other")}},
		{1, []string{"run", filepath.Join(work, "other"), "--name", "hello"}},
		{2, []string{"run", filepath.Join(work, "nowhere")}},
		{5, []string{"status", "nothing"}},
		{5, []string{"logs", "nothing"}},
		{5, []string{"update", "nothing"}},
		{5, []string{"kill", "nothing"}},
		{5, []string{"call", "nothing", "Hello.Call"}},
		{5, []string{"call", "hello", "Hello.Nope"}},
		{2, []string{"call", "hello", "Hello.Call", `{"nom":1}`}},
	} {
		checkJSON(t, p, s.code, s.args...)
	}
}

// restartSteps restarts the server while hello runs: afterwards hello runs
// again and answers.
func restartSteps(t *testing.T, p *platform) {
	p.stop()
	p.start()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var out struct{ Services []serviceJSON }
		r := p.micro("", "status", "hello", "-o", "json")
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &out) == nil && len(out.Services) == 1 && out.Services[0].Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello is not running 5 minutes after the restart: exit %d, %s %s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(time.Second)
	}
	if got := greet(t, p, "hello"); got != "Hi Ann" {
		t.Errorf("call after the restart = %q, want Hi Ann", got)
	}
}
