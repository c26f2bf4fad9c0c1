package build_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/local/sandbox"
)

// shared is one sandbox, namespace and builder for every test: the first
// build in a namespace compiles the standard library into its fresh
// GOCACHE, which is worth paying once.
var shared struct {
	once    sync.Once
	dir     string
	ns      *sandbox.Namespace
	builder *build.Builder
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup returns the shared namespace and builder, making them on first use
// in a directory namespace uids can search, with a fake SDK beside it.
func setup(t *testing.T) (*sandbox.Namespace, *build.Builder) {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "m3o-build-test-")
		if shared.err != nil {
			return
		}
		os.Chmod(shared.dir, 0o711)
		shared.err = writeFiles(filepath.Join(shared.dir, "sdk"), map[string]string{
			"pkg/go.mod":         "module m3o.dev/pkg\n\ngo 1.26\n\nrequire m3o.dev/proto v0.1.0\n",
			"pkg/greet/greet.go": "// Package greet stands in for the SDK.\npackage greet\n\nimport \"m3o.dev/proto/version\"\n\n// Hello greets from the SDK.\nfunc Hello() string { return \"hello from the shipped sdk \" + version.Name }\n",
			"proto/go.mod":       "module m3o.dev/proto\n\ngo 1.26\n",
			"proto/version/v.go": "// Package version stands in for the protos.\npackage version\n\n// Name names the shipped protos.\nconst Name = \"with protos\"\n",
		})
		var sb *sandbox.Sandbox
		if shared.err == nil {
			sb, shared.err = sandbox.New(sandbox.Config{Dir: filepath.Join(shared.dir, "runtime")})
		}
		if shared.err == nil {
			shared.ns, shared.err = sb.Namespace("build-test")
		}
		if shared.err == nil {
			shared.builder, shared.err = build.New(build.Options{Sandbox: sb, SDKDir: filepath.Join(shared.dir, "sdk"),
				SDKVersion: "v0.1.0", Proxy: "off", SumDB: "off"})
		}
	})
	if shared.err != nil {
		t.Fatalf("setup: %v", shared.err)
	}
	return shared.ns, shared.builder
}

// writeFiles writes files under dir, readable by everyone.
func writeFiles(dir string, files map[string]string) error {
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// source writes a service's source into the namespace's source directory,
// where the server would extract it.
func source(t *testing.T, ns *sandbox.Namespace, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(ns.SourceDir, name)
	os.RemoveAll(dir)
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// helloMain is a service that prints the SDK's greeting; only the standard
// library and the SDK, so no network is needed.
const helloMain = "package main\n\nimport (\n\t\"os\"\n\n\t\"m3o.dev/pkg/greet\"\n)\n\nfunc main() { os.Stdout.WriteString(greet.Hello() + \"\\n\") }\n"

// buildService builds a service and returns the result and the log text.
func buildService(t *testing.T, name string, files map[string]string) (build.Result, string, error) {
	t.Helper()
	ns, b := setup(t)
	src := source(t, ns, name, files)
	logPath := filepath.Join(t.TempDir(), name+".build.log")
	res, err := b.Build(t.Context(), build.Request{Namespace: ns, Service: name, Source: src, LogPath: logPath})
	log, _ := os.ReadFile(logPath)
	return res, string(log), err
}

func TestBuildWithTheShippedSDK(t *testing.T) {
	files := map[string]string{"go.mod": "module example.com/hello\n\ngo 1.26\n\nrequire m3o.dev/pkg v0.1.0\n", "main.go": helloMain}
	res, log, err := buildService(t, "hello", files)
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	t.Logf("first build in a fresh namespace cache: %s", res.Duration)
	out, err := exec.Command(res.Binary).Output()
	if err != nil || string(out) != "hello from the shipped sdk with protos\n" {
		t.Fatalf("running the binary = %q, %v, want the SDK's greeting", out, err)
	}
	if res.Note != "" || strings.Contains(log, "note:") {
		t.Fatalf("note = %q, log:\n%s\nwant no note when go.mod asks for the shipped version", res.Note, log)
	}
	again, log, err := buildService(t, "hello", files)
	if err != nil {
		t.Fatalf("rebuild = %v\n%s", err, log)
	}
	t.Logf("rebuild of the unchanged service: %s", again.Duration)
	if src, _ := os.ReadFile(filepath.Join(shared.ns.SourceDir, "hello", "go.mod")); string(src) != files["go.mod"] {
		t.Fatalf("the developer's go.mod changed to %q", src)
	}
}

func TestBuildIgnoresAnotherRequestedSDK(t *testing.T) {
	res, log, err := buildService(t, "pinned", map[string]string{
		"go.mod":  "module example.com/pinned\n\ngo 1.26\n\nrequire m3o.dev/pkg v9.9.9\n\nreplace m3o.dev/pkg => ../my-own-sdk\n",
		"main.go": helloMain,
	})
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	var notes []string
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "note:") {
			notes = append(notes, line)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "m3o.dev/pkg v9.9.9") || !strings.Contains(notes[0], "(v0.1.0)") || res.Note != notes[0] {
		t.Fatalf("note lines %q, Result.Note %q; want one line naming v9.9.9 and the shipped v0.1.0", notes, res.Note)
	}
	if out, err := exec.Command(res.Binary).Output(); err != nil || !strings.Contains(string(out), "shipped sdk") {
		t.Fatalf("running the binary = %q, %v, want the shipped SDK's greeting", out, err)
	}
}

func TestBuildFailureCarriesTheCompilerMessage(t *testing.T) {
	body := "package main\n\nfunc main() {\n\tundefinedThing()\n}\n"
	for i := range 15 {
		body += "func f" + string(rune('a'+i)) + "() { nope" + string(rune('a'+i)) + "() }\n"
	}
	_, log, err := buildService(t, "broken", map[string]string{"go.mod": "module example.com/broken\n\ngo 1.26\n", "main.go": body})
	var be *build.Error
	if !errors.Is(err, build.ErrBuildFailed) || !errors.As(err, &be) {
		t.Fatalf("Build() = %v, want a *build.Error matching ErrBuildFailed", err)
	}
	if !strings.Contains(be.Output, "undefined: undefinedThing") || strings.Count(be.Output, "\n")+1 > build.OutputLines {
		t.Fatalf("Error.Output = %q, want the compiler's first lines (at most %d)", be.Output, build.OutputLines)
	}
	if !strings.Contains(log, "undefined: undefinedThing") || !strings.Contains(log, "build failed") {
		t.Fatalf("build log = %q, want the compiler's output and the failure", log)
	}
}

func TestBuildRefusesWhatIsNoModule(t *testing.T) {
	ns, b := setup(t)
	tests := []struct {
		name  string
		setup func(dir string) error
		pkg   string
	}{
		{"no go.mod", func(dir string) error { return os.WriteFile(filepath.Join(dir, "main.go"), []byte(helloMain), 0o644) }, ""},
		{"go.mod links out", func(dir string) error { return os.Symlink("/etc/passwd", filepath.Join(dir, "go.mod")) }, ""},
		{"bad go.mod", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "go.mod"), []byte("this is not a go.mod\n"), 0o644)
		}, ""},
		{"package outside", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
		}, "../other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := source(t, ns, "refused", nil)
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tt.setup(src); err != nil {
				t.Fatal(err)
			}
			_, err := b.Build(t.Context(), build.Request{Namespace: ns, Service: "refused", Source: src, Package: tt.pkg, LogPath: filepath.Join(t.TempDir(), "log")})
			if !errors.Is(err, build.ErrInvalidModule) {
				t.Fatalf("Build() = %v, want ErrInvalidModule", err)
			}
		})
	}
}

func TestBuildCachesBelongToTheNamespace(t *testing.T) {
	ns, _ := setup(t)
	if _, log, err := buildService(t, "cached", map[string]string{"go.mod": "module example.com/cached\n\ngo 1.26\n", "main.go": "package main\n\nfunc main() {}\n"}); err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	for _, d := range []string{"cache/go-build", "cache/mod", "bin/cached"} {
		info, err := os.Stat(filepath.Join(ns.Dir, d))
		if err != nil {
			t.Fatalf("Stat(%s) = %v, want it inside the namespace's directory", d, err)
		}
		if st := info.Sys().(*syscall.Stat_t); sandbox.CanSwitchUsers() && st.Uid != ns.UID {
			t.Errorf("%s is owned by uid %d, want the namespace's %d", d, st.Uid, ns.UID)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(ns.Dir, "cache", "go-build")); len(entries) == 0 {
		t.Fatalf("the namespace's GOCACHE is empty after a build")
	}
}
