package artifact_test

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/service"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/kubernetes/artifact"
)

// script is the "binary" the tests serve: the entrypoint execs it.
const script = "#!/bin/sh\necho \"running $MICRO_SERVICE_NAME as fetched\"\n"

// fixture is a platform CA, a runtime serving binaries under it, and a
// pod's TLS directory.
type fixture struct {
	ca     *mtls.CA
	dir    string // the runtime's binaries
	tlsDir string // hello's instance certificate, as MICRO_TLS_DIR
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ca: mtlstest.NewCA(t), dir: t.TempDir()}
	bin := filepath.Join(f.dir, "home-space", "hello", "src-abc")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	f.tlsDir = instanceDir(t, f.ca, runtime.Ref{Namespace: "home-space", Name: "hello"})
	return f
}

// instanceDir writes ref's instance certificate, signed by the runtime's
// workload CA under ca, as the runtime writes MICRO_TLS_DIR.
func instanceDir(t *testing.T, ca *mtls.CA, ref runtime.Ref) string {
	t.Helper()
	inter, err := ca.IssueIntermediate("workload CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := runtime.NewSigner(inter, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := signer.Certify(ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{service.CAFile: cert.CA, service.CertFile: cert.Chain, service.KeyFile: cert.Key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveAs serves the binaries over mTLS with a certificate of ca naming id.
func (f *fixture) serveAs(t *testing.T, ca *mtls.CA, id mtls.Identity) string {
	t.Helper()
	h, err := artifact.Handler(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ca.Issue(id, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = b.ServerConfig()
	// Refused handshakes are what some tests expect; keep them off the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// entrypoint builds services/cmd/entrypoint.
func entrypoint(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "entrypoint")
	out, err := exec.Command("go", "build", "-o", bin, "m3o.dev/services/cmd/entrypoint").CombinedOutput()
	if err != nil {
		t.Fatalf("go build entrypoint: %v\n%s", err, out)
	}
	return bin
}

// TestEntrypointFetchesAndRuns runs the entrypoint as a local process
// against a runtime of the platform: it fetches the binary over mTLS and
// becomes it. Against a server with a certificate of a foreign CA it
// refuses, and nothing is written.
func TestEntrypointFetchesAndRuns(t *testing.T) {
	f := newFixture(t)
	ep := entrypoint(t)
	tests := []struct {
		name    string
		url     string
		wantOut string
		wantErr string
	}{
		{"the platform's runtime", f.serveAs(t, f.ca, artifact.Runtime), "running hello as fetched", ""},
		{"a foreign runtime", f.serveAs(t, mtlstest.NewCA(t), artifact.Runtime), "", "certificate"},
		{"another core service", f.serveAs(t, f.ca, mtls.Identity{Namespace: "micro", Service: "store"}), "", "svc/runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "service")
			cmd := exec.Command(ep)
			cmd.Env = []string{"M3O_ARTIFACT_URL=" + tt.url + "/home-space/hello/src-abc", "MICRO_TLS_DIR=" + f.tlsDir,
				"M3O_BINARY=" + dst, "MICRO_SERVICE_NAME=hello", "PATH=/usr/bin:/bin"}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tt.wantErr == "" {
				if err != nil || strings.TrimSpace(stdout.String()) != tt.wantOut {
					t.Fatalf("entrypoint = %v, stdout %q, stderr %q; want %q", err, stdout.String(), stderr.String(), tt.wantOut)
				}
				return
			}
			if err == nil || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("entrypoint = %v, stderr %q; want a refusal naming %q", err, stderr.String(), tt.wantErr)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("%s after a refused fetch: %v, want nothing written", dst, err)
			}
		})
	}
}

// TestOnlyItsOwnBinary fetches as another tenant's instance, and with
// paths that try to leave the directory: each is refused.
func TestOnlyItsOwnBinary(t *testing.T) {
	f := newFixture(t)
	url := f.serveAs(t, f.ca, artifact.Runtime)
	other := instanceDir(t, f.ca, runtime.Ref{Namespace: "away-space", Name: "hello"})
	tests := []struct {
		name, path, tlsDir, want string
	}{
		{"another tenant's instance", "/home-space/hello/src-abc", other, "403"},
		{"a missing binary", "/home-space/hello/src-none", f.tlsDir, "404"},
		{"a path out of the tree", "/home-space/hello/..%2f..%2fetc", f.tlsDir, "404"},
		{"too deep a path", "/home-space/hello/src-abc/x", f.tlsDir, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "service")
			err := artifact.Fetch(t.Context(), url+tt.path, tt.tlsDir, dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Fetch(%s) = %v, want %s", tt.path, err, tt.want)
			}
		})
	}
}
