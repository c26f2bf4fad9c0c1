package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/coretest"
)

// workloadCAFlags writes a workload CA below ca and returns the flags that
// name it.
func workloadCAFlags(t *testing.T, ca *mtls.CA) []string {
	t.Helper()
	inter, err := ca.IssueIntermediate("test workload CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "runtime-ca.pem"), filepath.Join(dir, "runtime-ca-key.pem")
	if err := inter.WriteIntermediateFiles(cert, key); err != nil {
		t.Fatal(err)
	}
	return []string{"--workload-ca-cert-file", cert, "--workload-ca-key-file", key}
}

// workDir returns a directory the namespaces' uids can search.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-runtime-cmd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "work")
}

// TestRun serves the runtime from certificate files, as the binary does,
// against a real store, auth and registry, and reads services as the
// admin through the proxy's identity.
func TestRun(t *testing.T) {
	p := coretest.New(t, platform.Store, platform.Auth, platform.Registry)
	p.ServeStore(t)
	p.ServeAuth(t)
	p.ServeRegistry(t)
	args := append(corekittest.CertFlags(t, p.CA, "runtime"), workloadCAFlags(t, p.CA)...)
	args = append(args, "--work-dir", workDir(t), "--proxy-address", "127.0.0.1:8081",
		"--store-address", p.Addr(platform.Store), "--auth-address", p.Addr(platform.Auth), "--registry-address", p.Addr(platform.Registry))
	rt := corekittest.Start(t, newApp(), args...)

	conn := p.Dial(t, rt.Address, platform.Namespace, platform.Proxy, coretest.Core(platform.Runtime))
	_, token := p.Login(t, platform.Namespace, "admin", coretest.AdminPassword)
	client := runtimev1.NewRuntimeServiceClient(conn)
	coretest.Eventually(t, "Read as the admin", func() error {
		_, err := client.Read(identity.WithBearer(t.Context(), token), &runtimev1.ReadRequest{Namespace: "some-space"})
		return err
	})
	if !strings.Contains(rt.Logs(), "user code runs") {
		t.Errorf("the runtime did not say at start how user code is isolated; logs:\n%s", rt.Logs())
	}
}

// TestRunRefusesBadFlags checks that a mistake in the runtime's own flags
// is named before anything opens.
func TestRunRefusesBadFlags(t *testing.T) {
	ca := mtlstest.NewCA(t)
	certs := corekittest.CertFlags(t, ca, "runtime")
	good := append(workloadCAFlags(t, ca), "--work-dir", workDir(t), "--proxy-address", "127.0.0.1:8081")
	caDir := t.TempDir()
	if err := ca.WriteFiles(caDir); err != nil {
		t.Fatal(err)
	}
	caCert, caKey := mtls.CAFiles(caDir)
	rootAsWorkload := []string{"--workload-ca-cert-file", caCert, "--workload-ca-key-file", caKey}
	tests := []struct {
		name string
		args []string
	}{
		{"unknown backend", append(good, "--backend", "kubernetes")},
		{"no proxy address", append(good, "--proxy-address", "")},
		{"relative work dir", append(good, "--work-dir", "relative")},
		{"upload limit past the proto's", append(good, "--max-upload-bytes", "200000000")},
		{"no workload CA", []string{"--work-dir", workDir(t), "--proxy-address", "127.0.0.1:8081"}},
		{"the platform CA as the workload CA", append(rootAsWorkload, "--work-dir", workDir(t), "--proxy-address", "127.0.0.1:8081")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := corekittest.Fails(t, newApp(), append(certs, tt.args...)...)
			if !errors.Is(err, corekit.ErrConfig) {
				t.Errorf("runtime %v = %v, want ErrConfig", tt.args, err)
			}
		})
	}
}
