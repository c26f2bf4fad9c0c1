package command

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"m3o.dev/cli/internal/platformtest"
	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// folder writes a service's folder under the working directory, with the
// files named, and returns its name.
func folder(t *testing.T, name string, files ...string) string {
	t.Helper()
	for _, f := range append([]string{"go.mod"}, files...) {
		p := filepath.Join(name, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// staysInError is the line a failed first run ends with, for app.
const staysInError = `The service stays, in error: 'micro update app FOLDER' builds it again once fixed; 'micro kill app' removes it\.\n`

// TestRunRefusedBeforeUpload runs what the platform could not build or
// name: a folder without go.mod, and a folder whose name is no service
// name, for which the refusal offers the name most likely meant. Each is
// refused before anything is uploaded.
func TestRunRefusedBeforeUpload(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	if err := os.Mkdir("docs", 0o755); err != nil {
		t.Fatal(err)
	}
	folder(t, "My_App", "main.go")
	for src, want := range map[string]string{
		"docs":   "docs has no go.mod: the platform builds the Go module at the folder's root; 'micro new NAME' writes one to start from.\n",
		"My_App": `"My_App" (the source's name) is not a service name: use lower-case letters, digits and dashes, starting with a letter; pass --name my-app.` + "\n",
	} {
		if r := h.run("run", src); r.code != ExitUsage || r.stderr != want {
			t.Errorf("micro run %s = exit %d, %q; want %d, %q", src, r.code, r.stderr, ExitUsage, want)
		}
	}
	if got := len(h.p.Uploads()); got != 0 {
		t.Errorf("the refused runs uploaded %d sources, want none", got)
	}
}

// TestDailyJourney runs the journey of DESIGN §1 against the stand-in and
// checks what a person sees at each step.
func TestDailyJourney(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	steps := []struct {
		args []string
		want string // a regular expression the whole stdout must match
	}{
		{[]string{"new", "hello"}, `^Created hello in hello:\n(  \S+\n)+\nRun it on the platform:\n  cd hello && micro run \.\n  micro call hello Hello\.Call '\{"name": "Ann"\}'\n$`},
		{[]string{"run", "hello"}, `^hello is running \(1/1 instances\)\. Call it with 'micro call hello METHOD JSON': Hello\.Call, Hello\.Hold, Hello\.Stream\.\n$`},
		{[]string{"status"}, `^NAME +VERSION +SOURCE +STATUS +INSTANCES +UPDATED +ERROR\nhello +latest +src-[a-z0-9]{26} +running +1/1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +-\n$`},
		{[]string{"call", "hello", "Hello.Call", `{"name":"Ann"}`}, `^\{\n  "message": "Hello Ann"\n\}\n$`},
		{[]string{"call", "hello"}, `^METHOD +REQUEST +RESPONSE\nHello\.Call +hello\.CallRequest +hello\.CallResponse\nHello\.Hold +hello\.HoldRequest +hello\.HoldResponse\nHello\.Stream +hello\.StreamRequest +hello\.StreamResponse\n$`},
		{[]string{"logs", "hello"}, `^\[1\] serving on the platform\n\[2\] greeted name=Ann\n$`},
		{[]string{"logs", "-f", "hello"}, `^\[1\] serving on the platform\n\[2\] greeted name=Ann\n$`},
		{[]string{"logs", "--build", "hello"}, `^\[build\] build micro/hello \(package \./\.\)\n\[build\] build ok\n$`},
		{[]string{"update", "hello", "hello"}, `^hello is running \(1/1 instances\)\.`},
		{[]string{"update", "hello"}, `^hello is running \(1/1 instances\)\.`},
		{[]string{"update", "./hello"}, `^hello is running \(1/1 instances\)\.`},
		{[]string{"kill", "hello"}, `^Killed hello: its instances have stopped\.\n$`},
		{[]string{"status"}, `^$`},
	}
	for _, s := range steps {
		r := h.run(s.args...)
		if r.code != ExitOK {
			t.Fatalf("micro %s = exit %d (%q), want 0", strings.Join(s.args, " "), r.code, r.stderr)
		}
		if !regexp.MustCompile(s.want).MatchString(r.stdout) {
			t.Errorf("micro %s = %q, want it to match %q", strings.Join(s.args, " "), r.stdout, s.want)
		}
	}
	if got := h.p.Service("hello"); got != nil {
		t.Errorf("after kill the runtime still has %v", got)
	}
	want := "No services in namespace 'micro'. 'micro run FOLDER' runs one; 'micro new NAME' writes one to start from.\n"
	if r := h.run("status"); r.stderr != want {
		t.Errorf("micro status of no service: stderr %q, want %q", r.stderr, want)
	}
}

// TestRuntimeFailures checks the exit codes and sentences of what goes
// wrong, each against a platform that runs hello.
func TestRuntimeFailures(t *testing.T) {
	tests := []struct {
		name   string
		files  []string // files of the folder "app" besides go.mod
		args   []string
		code   int
		stderr string // a regular expression stderr must match
	}{
		{"build fails", []string{platformtest.BrokenFile}, []string{"run", "app"}, ExitError,
			`(?s)^'micro run app' failed: \n    build failed:\n    \./main\.go:3:1: syntax error.*\n` + staysInError + `$`},
		{"start fails", []string{platformtest.CrashFile}, []string{"run", "app"}, ExitError,
			`^'micro run app' failed: instance 1: exit status 1 after 5 crashes in a row .*\.\n'micro logs app' prints what its instances wrote; 'micro status app' shows each one's restarts\.\n` + staysInError + `$`},
		{"name taken", nil, []string{"run", "app", "--name", "hello"}, ExitError,
			`^A service named 'hello' already exists\. Run 'micro update hello app' to replace it`},
		{"update fails", []string{platformtest.BrokenFile}, []string{"update", "hello", "app"}, ExitError,
			`^'micro update hello' failed, and generation 1 keeps serving: \n    build failed:`},
		{"no folder", nil, []string{"run", "nowhere"}, ExitUsage, `^nowhere is not a folder, a git URL`},
		{"a file", nil, []string{"run", "app/go.mod"}, ExitUsage, `^app/go\.mod is not a folder, a git URL`},
		{"git over SSH", nil, []string{"run", "git@github.com:you/app.git"}, ExitUsage,
			`^git@github\.com:you/app\.git is a git URL over SSH; the platform fetches git over HTTPS: https://host/path@ref\.\n$`},
		{"bad name given", nil, []string{"run", "app", "--name", "App"}, ExitUsage,
			`^"App" \(--name\) is not a service name: use lower-case letters, digits and dashes, starting with a letter\.\n$`},
		{"bad name", nil, []string{"run", "app", "--name", "Hello_World"}, ExitUsage, `^"Hello_World" \(--name\) is not a service name`},
		{"bad env", nil, []string{"run", "app", "--env", "novalue"}, ExitUsage, `^--env "novalue" must be KEY=VALUE\.`},
		{"status of nothing", nil, []string{"status", "nothing"}, ExitNotFound, `^Not found in env 'test' for namespace 'micro': no service "nothing" in namespace "micro"\.`},
		{"update nothing", nil, []string{"update", "nothing"}, ExitNotFound, `^Not found in env 'test'`},
		{"kill nothing", nil, []string{"kill", "nothing"}, ExitNotFound, `^Not found in env 'test'`},
		{"logs of nothing", nil, []string{"logs", "nothing"}, ExitNotFound, `^Not found in env 'test'`},
		{"too many lines", nil, []string{"logs", "hello", "-n", "10001"}, ExitUsage, `^--lines must be between 1 and 10000\.`},
		{"unknown method", nil, []string{"call", "hello", "Hello.Nope"}, ExitNotFound,
			`^Cannot call Hello\.Nope of service 'hello': service hello\.Hello has no method Nope; it has Hello\.Call, Hello\.Stream, Hello\.Hold\.`},
		{"methods of nothing", nil, []string{"call", "nothing"}, ExitNotFound, `^Not found in env 'test'`},
		{"refused by the service", nil, []string{"call", "hello", "Hello.Stream", `{"name":"Ann","count":1000}`}, ExitError,
			`^Service 'hello' answered InvalidArgument: count 1000 is over 100\.\n$`},
		{"failed in the service", nil, []string{"call", "hello", "Hello.Call", `{"name":"` + platformtest.FailingName + `"}`}, ExitError,
			`^The call to Hello\.Call of service 'hello' ended with Unknown: the database is down\. A handler that returns an error without a gRPC code, or panics, ends a call so; 'micro logs hello' shows what the service logged\.\n$`},
		{"service misspelled", nil, []string{"call", "helo", "Hello.Call"}, ExitNotFound,
			`^Service 'helo' is not running in namespace 'micro'\. Did you mean 'hello'\?\n$`},
		{"service not running", nil, []string{"call", "billing-worker", "Work.Run"}, ExitNotFound,
			`^Not found in env 'test' for namespace 'micro': service "billing-worker" is not running in namespace "micro"\.\n$`},
		{"unknown service", nil, []string{"call", "hello", "Bye.Call"}, ExitNotFound, `^Cannot call Bye\.Call of service 'hello': no service Bye`},
		{"bad request", nil, []string{"call", "hello", "Hello.Call", `{"nom":"Ann"}`}, ExitUsage,
			`^Cannot call Hello\.Call of service 'hello': the request is not a JSON hello\.CallRequest: unknown field "nom" \(line 1, column 2\)\.`},
		{"bad method", nil, []string{"call", "hello", "Call"}, ExitUsage, `^Cannot call Call of service 'hello': "Call": the method must be`},
		{"bad metadata", nil, []string{"call", "hello", "Hello.Call", "--metadata", "x"}, ExitUsage, `^--metadata "x" must be KEY=VALUE\.`},
		{"new with a bad name", nil, []string{"new", "Hello"}, ExitUsage, `^Cannot create Hello: "Hello" must be a DNS label: .*, such as "hello"\.\n$`},
		{"new over a folder", nil, []string{"new", "app"}, ExitError, `^Cannot create app: app already exists and is not empty`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			h := newHarness(t)
			h.login()
			h.mustRun("run", folder(t, "hello"))
			folder(t, "app", tc.files...)
			r := h.run(tc.args...)
			if r.code != tc.code || !regexp.MustCompile(tc.stderr).MatchString(r.stderr) {
				t.Errorf("micro %s = exit %d, stderr %q; want %d and a match of %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

// TestRunUploadsFolder checks what a run uploads: the folder without .git
// and what its .gitignore lists.
func TestRunUploadsFolder(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	os.MkdirAll(filepath.Join("app", ".git"), 0o755)
	os.WriteFile(filepath.Join("app", ".gitignore"), []byte("secret.txt\n/bin/\n"), 0o644)
	folder(t, "app", ".git/config", "main.go", "secret.txt", "bin/app", "handler/handler.go")
	h.mustRun("run", "app")
	uploads := h.p.Uploads()
	if len(uploads) != 1 {
		t.Fatalf("run uploaded %d sources, want 1", len(uploads))
	}
	want := []string{".gitignore", "go.mod", "handler/", "handler/handler.go", "main.go"}
	if got := slices.Sorted(slices.Values(uploads[0])); !slices.Equal(got, want) {
		t.Errorf("run uploaded %q, want %q", got, want)
	}
}

// TestUploadCarriesOptions checks that run and update send the options
// the service is to run with in the upload, so that the runtime refuses
// them before it, and that an update that keeps them sends none.
func TestUploadCarriesOptions(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	folder(t, "app", "main.go")
	h.mustRun("run", "app", "--instances", "3", "--env", "GREETING=hi")
	h.mustRun("update", "app", "app", "--instances", "2")
	h.mustRun("update", "app", "app")
	want := []*runtimev1.Options{
		{Instances: 3, Env: map[string]string{"GREETING": "hi"}},
		{Instances: 2, Env: map[string]string{"GREETING": "hi"}},
		nil,
	}
	if diff := cmp.Diff(want, h.p.UploadOptions(), protocmp.Transform()); diff != "" {
		t.Errorf("options of run, update with --instances and update (-want +got):\n%s", diff)
	}
}

// TestUpdateFromFolder checks that 'micro update .' in the folder a service
// was run from uploads it again and replaces that service.
func TestUpdateFromFolder(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	folder(t, "app", "main.go")
	h.mustRun("run", "app")
	t.Chdir("app")
	if r := h.run("update", "."); r.code != ExitOK || !strings.HasPrefix(r.stdout, "app is running") {
		t.Fatalf("micro update . = exit %d, %q (stderr %q), want app running", r.code, r.stdout, r.stderr)
	}
	if got := len(h.p.Uploads()); got != 2 {
		t.Errorf("run then update . uploaded %d sources, want 2", got)
	}
	if r := h.run("update", "Bad_Name"); r.code == ExitOK {
		t.Errorf("micro update Bad_Name = exit 0, want a refusal of the name")
	}
	folder(t, "My_App", "main.go")
	want := `"My_App" (the source's name) is not a service name: run 'micro update NAME ./My_App' with the service's name.` + "\n"
	if r := h.run("update", "./My_App"); r.code != ExitUsage || r.stderr != want {
		t.Errorf("micro update ./My_App = exit %d, stderr %q, want %d and %q", r.code, r.stderr, ExitUsage, want)
	}
}

func TestErrorSummary(t *testing.T) {
	tests := []struct {
		err  string
		want string
		more bool
	}{
		{"", "", false},
		{"exited with status 2", "exited with status 2", false},
		{"# hello/handler\nhandler/handler.go:123:17: undefined: x", "handler/handler.go:123:17: undefined: x", false},
		{"build failed:\n./main.go:3:1: syntax error\n./main.go:4:1: another", "./main.go:3:1: syntax error", true},
		{"# only a header", "# only a header", false},
		{platform.NotTaken(3, 2, "# hello/handler\nhandler/handler.go:60:9: undefined: x"), "generation 3: handler/handler.go:60:9: undefined: x", false},
	}
	for _, tt := range tests {
		if got, more := errorSummary(tt.err); got != tt.want || more != tt.more {
			t.Errorf("errorSummary(%q) = %q, %v, want %q, %v", tt.err, got, more, tt.want, tt.more)
		}
	}
}

func TestCallHint(t *testing.T) {
	tests := []struct {
		ns      string
		methods []string
		want    string
	}{
		{"", nil, "Call it with 'micro call web SERVICE.METHOD JSON'."},
		{"", []string{"Web.Get"}, "Call it with 'micro call web Web.Get JSON'."},
		{"", []string{"Web.Get", "Web.Put"}, "Call it with 'micro call web METHOD JSON': Web.Get, Web.Put."},
		// micro call has no --namespace: an admin who ran a service in
		// another namespace is told who can call it.
		{"ada", []string{"Web.Get"}, "Accounts of namespace 'ada' call it with 'micro call web Web.Get JSON'."},
	}
	for _, tt := range tests {
		if got := callHint("web", tt.ns, tt.methods); got != tt.want {
			t.Errorf("callHint(web, %q, %q) = %q, want %q", tt.ns, tt.methods, got, tt.want)
		}
	}
}

// TestLogsOfServicesThatLoggedNothing checks that logs of a service whose
// instances wrote no line print nothing on stdout and say on stderr where
// to look: the build's log when the build failed, how an instance exited
// when it crashed at once.
func TestLogsOfServicesThatLoggedNothing(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{platformtest.BrokenFile, "No lines from the instances of app. 'micro logs --build app' prints its latest build's log.\n"},
		{platformtest.CrashFile, "No lines from the instances of app; instance 1 last exited with exit status 1. 'micro status app' shows each one's restarts.\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Chdir(t.TempDir())
			h := newHarness(t)
			h.login()
			if r := h.run("run", folder(t, "app", tc.file)); r.code != ExitError {
				t.Fatalf("micro run of a folder with %s = exit %d, want %d", tc.file, r.code, ExitError)
			}
			r := h.run("logs", "app")
			if r.code != ExitOK || r.stdout != "" || r.stderr != tc.want {
				t.Errorf("micro logs app = exit %d, stdout %q, stderr %q, want 0, nothing and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

// TestDeployOptions checks the options run and update send: update keeps
// what its flags do not change, and run's --env is not the global --env.
func TestDeployOptions(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	h.mustRun("--env", "test", "run", folder(t, "app"), "--name", "web", "--env", "A=1", "--env", "B=x=y", "--instances", "2")
	check := func(step string, env map[string]string, instances uint32) {
		t.Helper()
		opts := h.p.Service("web").GetOptions()
		if !maps.Equal(opts.GetEnv(), env) || opts.GetInstances() != instances {
			t.Errorf("after %s: env %v and %d instances, want %v and %d", step, opts.GetEnv(), opts.GetInstances(), env, instances)
		}
	}
	check("run", map[string]string{"A": "1", "B": "x=y"}, 2)
	h.mustRun("update", "web", "--env", "A=2")
	check("update --env", map[string]string{"A": "2", "B": "x=y"}, 2)
	h.mustRun("update", "web", "--instances", "3")
	check("update --instances", map[string]string{"A": "2", "B": "x=y"}, 3)
	if src := h.p.Service("web").GetSource(); !strings.HasPrefix(src, "src-") {
		t.Errorf("update without SOURCE changed the source to %q", src)
	}
	dotenv := "# the app's settings\n\nexport C=3\nA = 'from file'\nD=\"two words\"\nE=a#b\n"
	if err := os.WriteFile(".env", []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	h.mustRun("update", "web", "--env-file", ".env", "--env", "C=flag")
	check("update --env-file", map[string]string{"A": "from file", "B": "x=y", "C": "flag", "D": "two words", "E": "a#b"}, 3)
	h.mustRun("update", "web", "--unset-env", "C", "--unset-env", "E")
	check("update --unset-env", map[string]string{"A": "from file", "B": "x=y", "D": "two words"}, 3)
}

// TestDeployOptionsRefused checks that an --env-file that cannot be read
// or holds a line that is no variable, and an --unset-env of a variable
// the service lacks, are usage errors that change nothing.
func TestDeployOptionsRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	h.mustRun("run", folder(t, "app"), "--env", "A=1")
	if err := os.WriteFile("bad.env", []byte("A=2\nnot a variable\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"update", "app", "--env-file", "missing.env"}, "--env-file missing.env does not exist.\n"},
		{[]string{"update", "app", "--env-file", "bad.env"}, `--env-file bad.env, line 2: "not a variable" must be KEY=VALUE.` + "\n"},
		{[]string{"update", "app", "--unset-env", "B"}, "--unset-env B: the service has no variable B.\n"},
		{[]string{"run", "app", "--name", "other", "--env-file", "bad.env"}, `--env-file bad.env, line 2: "not a variable" must be KEY=VALUE.` + "\n"},
	} {
		if r := h.run(tc.args...); r.code != ExitUsage || r.stderr != tc.want {
			t.Errorf("micro %s = exit %d, %q; want %d, %q", strings.Join(tc.args, " "), r.code, r.stderr, ExitUsage, tc.want)
		}
	}
	if env := h.p.Service("app").GetOptions().GetEnv(); !maps.Equal(env, map[string]string{"A": "1"}) || h.p.Service("other") != nil {
		t.Errorf("after the refusals: app's env %v, other %v; want A=1 alone and no other", env, h.p.Service("other"))
	}
}

// TestRunVerbose checks that --verbose shows the build log on stderr.
func TestRunVerbose(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	r := h.mustRun("run", folder(t, "app"), "--verbose")
	if !strings.Contains(r.stderr, "[build] build micro/app (package ./.)\n[build] build ok\n") {
		t.Errorf("micro run --verbose stderr = %q, want the build log", r.stderr)
	}
	if strings.Count(r.stderr, "[build] build ok") != 1 {
		t.Errorf("micro run --verbose stderr = %q, want each build line once", r.stderr)
	}
}

// TestStatusOfOneService checks `micro status NAME`: a field a line, the
// whole error and the instances, for a service that runs, one whose update
// did not take, and one that keeps crashing.
func TestStatusOfOneService(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	h.mustRun("run", folder(t, "hello"), "--env", "GREETING=hi", "--env", "NOTE=two\nlines")
	h.run("update", "hello", folder(t, "broken", platformtest.BrokenFile))
	h.run("run", folder(t, "crashy", platformtest.CrashFile))
	const (
		date     = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`
		instance = `\nINSTANCE +GENERATION +STATUS +RESTARTS +SINCE +LAST EXIT\n`
		sources  = `\nSOURCE +STORED +SIZE +RUNNING\n`
	)
	for name, want := range map[string]string{
		"hello": `^NAME +hello\nNAMESPACE +micro\nSTATUS +running\nVERSION +latest\nSOURCE +src-[a-z0-9]{26}\n` +
			`GENERATION +2 \(generation 1 serves\)\nINSTANCES +1/1 running\nENV +GREETING=hi\n +NOTE="two\\nlines"\nCREATED +` + date + `\nUPDATED +` + date + `\n` +
			`ERROR +generation 2 did not take, generation 1 still runs:\n +build failed:\n +\./main\.go:3:1: syntax error[^\n]*\n` +
			instance + `1 +1 +running +0 +` + date + ` +-\n` +
			sources + `src-[a-z0-9]{26} +` + date + ` +\d+ bytes +-\nsrc-[a-z0-9]{26} +` + date + ` +\d+ bytes +yes\n` +
			`\n'micro update hello SOURCE' runs a kept source again\.\n$`,
		"crashy": `\nGENERATION +1\nINSTANCES +0/1 running\nENV +-\nCREATED +` + date + `\nUPDATED +` + date + `\nERROR +instance 1: exit status 1 after 5 crashes in a row[^\n]*\n` +
			instance + `1 +1 +error +4 +` + date + ` +exit status 1\n` +
			sources + `src-[a-z0-9]{26} +` + date + ` +\d+ bytes +-\n$`,
	} {
		r := h.mustRun("status", name)
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("micro status %s = %q, want a match of %q", name, r.stdout, want)
		}
	}
}

// TestStatusJSON checks the fields of status -o json.
func TestStatusJSON(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	h.mustRun("run", folder(t, "app"), "--env", "A=1")
	r := h.mustRun("status", "app", "-o", "json")
	var out struct {
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Services) != 1 {
		t.Fatalf("status -o json = %q (%v), want one service", r.stdout, err)
	}
	s := out.Services[0]
	want := map[string]any{"name": "app", "version": "latest", "status": "running", "error": "",
		"instances": map[string]any{"running": 1.0, "desired": 1.0}, "generation": 1, "running_generation": 1,
		"env": map[string]any{"A": "1"}}
	for k, v := range want {
		if got, _ := json.Marshal(s[k]); string(got) != mustJSON(v) {
			t.Errorf("status -o json: %s = %s, want %s", k, got, mustJSON(v))
		}
	}
	for _, k := range []string{"source", "updated"} {
		if s[k] == nil || s[k] == "" {
			t.Errorf("status -o json: %s is empty", k)
		}
	}
	details, _ := s["instance_details"].([]any)
	if len(details) != 1 {
		t.Fatalf("status -o json: instance_details = %v, want one instance", s["instance_details"])
	}
	inst := details[0].(map[string]any)
	for k, v := range map[string]any{"number": 1, "generation": 1, "status": "running", "restarts": 0, "last_exit": ""} {
		if got, _ := json.Marshal(inst[k]); string(got) != mustJSON(v) {
			t.Errorf("status -o json: instance_details[0].%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if inst["since"] == nil {
		t.Error("status -o json: instance_details[0].since is empty")
	}
}

// TestUpdateToKeptSource runs an older upload again by the id status
// lists: nothing is uploaded, the service builds from that source, and
// status marks it as the one that runs.
func TestUpdateToKeptSource(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	h.mustRun("run", folder(t, "hello"))
	h.mustRun("update", "hello", folder(t, "hello"))
	sources := func() []sourceJSON {
		t.Helper()
		var out statusOutput
		if err := json.Unmarshal([]byte(h.mustRun("status", "hello", "-o", "json").stdout), &out); err != nil {
			t.Fatal(err)
		}
		return out.Services[0].Sources
	}
	kept := sources()
	if len(kept) != 2 || !kept[0].Running || kept[1].Running || kept[0].SizeBytes == 0 || len(kept[0].SHA256) != 64 || kept[0].Stored == nil {
		t.Fatalf("status -o json: sources = %+v, want the two uploads, the newest running", kept)
	}
	older := kept[1].ID
	if r := h.run("update", "hello", older); r.code != ExitOK || !strings.HasPrefix(r.stdout, "hello is running") {
		t.Fatalf("micro update hello %s = exit %d, %q (stderr %q), want hello running", older, r.code, r.stdout, r.stderr)
	}
	if got := len(h.p.Uploads()); got != 2 {
		t.Errorf("an update to a kept source uploaded: %d uploads, want still 2", got)
	}
	if src := h.p.Service("hello").GetSource(); src != older {
		t.Errorf("the service builds from %s, want the kept %s", src, older)
	}
	if kept = sources(); kept[0].Running || !kept[1].Running {
		t.Errorf("status -o json after the update: sources = %+v, want the older one running", kept)
	}
	gone := "src-" + strings.Repeat("a", 26)
	r := h.run("update", "hello", gone)
	if want := "Service 'hello' has no kept source " + gone + ": it was never uploaded for it, or is no longer kept. 'micro status hello' lists the sources kept.\n"; r.code != ExitNotFound || r.stderr != want {
		t.Errorf("micro update hello %s = exit %d, %q; want %d, %q", gone, r.code, r.stderr, ExitNotFound, want)
	}
}

// TestUpdateAfterFailedUpdate checks that an update without SOURCE, after
// an upload that did not take, rebuilds from the source that still runs,
// as the help says, and says so, instead of the failed upload again.
func TestUpdateAfterFailedUpdate(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	h.mustRun("run", folder(t, "hello"))
	good := h.p.Service("hello").GetSource()
	if r := h.run("update", "hello", folder(t, "hello", platformtest.BrokenFile)); r.code != ExitError {
		t.Fatalf("update to a broken source = exit %d, %q, want it to fail", r.code, r.stderr)
	}
	broken := h.p.Service("hello").GetSource()
	r := h.run("update", "hello")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "hello is running") {
		t.Fatalf("micro update hello = exit %d, %q (stderr %q), want hello running", r.code, r.stdout, r.stderr)
	}
	if src := h.p.Service("hello").GetSource(); src != good {
		t.Errorf("the service builds from %s, want %s, which ran (not the failed %s)", src, good, broken)
	}
	if want := "Generation 2 of hello did not take; rebuilding from " + good + ", which generation 1 runs.\n"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr = %q, want it to start with %q", r.stderr, want)
	}
	if got := len(h.p.Uploads()); got != 2 {
		t.Errorf("an update without SOURCE uploaded: %d uploads, want still 2", got)
	}
	// Once the latest generation runs, an update without SOURCE keeps it.
	h.mustRun("update", "hello")
	if src := h.p.Service("hello").GetSource(); src != good {
		t.Errorf("a second update without SOURCE builds from %s, want %s", src, good)
	}
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// TestLogsFollowJSON checks that following logs as JSON prints one object
// a line.
func TestLogsFollowJSON(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t)
	h.login()
	h.mustRun("run", folder(t, "app"))
	r := h.mustRun("logs", "-f", "app", "-o", "json")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("logs -f -o json = %q, want two lines", r.stdout)
	}
	for _, l := range lines {
		var v logLineJSON
		if err := json.Unmarshal([]byte(l), &v); err != nil || v.Instance == 0 || v.Message == "" {
			t.Errorf("logs -f -o json line %q = %+v (%v), want a line with its instance", l, v, err)
		}
	}
}
