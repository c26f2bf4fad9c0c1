package kubernetes_test

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/service"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/k8stest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/kubernetes"
	"m3o.dev/services/runtime/kubernetes/artifact"
	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/local/sdk"
	"m3o.dev/services/runtime/runtimetest"
)

// TestBuildThenDeploy has the backend build the greeter with the local
// builder before it writes the Deployment: the Deployment comes once the
// binary is kept where the pods fetch it, and the artifact handler serves
// it to an instance of the service. A source that does not compile puts
// the service in error with the compiler's lines, and makes no
// Deployment.
func TestBuildThenDeploy(t *testing.T) {
	c := k8stest.Shared(t)
	ca := mtlstest.NewCA(t)
	work := workDir(t)
	builder, err := kubernetes.NewLocalBuilder(filepath.Join(work, "builds"), buildOptions(t, work))
	if err != nil {
		t.Fatal(err)
	}
	signer := newSigner(t, ca)
	artifacts := filepath.Join(work, "artifacts")
	b, err := kubernetes.New(kubernetes.Options{
		Client: c.Client, Certs: signer, Image: "m3o/runner:test", ArtifactURL: "https://runtime.m3o.svc:8086/artifacts",
		PlatformNamespace: platformNamespace, ProxyLabels: proxyLabels, Logger: slog.New(slog.DiscardHandler),
		Builder: builder, ArtifactDir: artifacts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	d := deployment("build-space", "hello", 1, 1, 64, roomy)
	apply(t, b, d)
	coretest.EventuallyWithin(t, "the greeter built and deployed", buildTimeout, func() error {
		st, err := b.Status(t.Context(), d.Ref)
		if err == nil && st.State == runtime.StateError {
			t.Fatalf("build failed: %s", st.Reason)
		}
		if err == nil {
			_, err = c.Client.AppsV1().Deployments(kubernetes.Namespace("build-space")).Get(t.Context(), "hello", metav1.GetOptions{})
		}
		return err
	})
	checkServed(t, ca, signer, artifacts, d)

	broken := deployment("build-space", "broken", 1, 1, 64, roomy)
	broken.Source = runtimetest.Program(runtimetest.Broken, "k8s")
	apply(t, b, broken)
	coretest.EventuallyWithin(t, "the broken build", buildTimeout, func() error {
		st, err := b.Status(t.Context(), broken.Ref)
		if err == nil && (st.State != runtime.StateError || !strings.Contains(st.Reason, "undefinedFunction")) {
			err = fmt.Errorf("status %+v", st)
		}
		return err
	})
	if _, err := c.Client.AppsV1().Deployments(kubernetes.Namespace("build-space")).Get(t.Context(), "broken", metav1.GetOptions{}); err == nil {
		t.Errorf("a Deployment of a source that does not compile exists")
	}
}

// checkServed fetches d's binary as an instance of its service, from the
// artifact handler over the directory the backend keeps binaries in.
func checkServed(t *testing.T, ca *mtls.CA, signer *runtime.Signer, artifacts string, d runtime.Deployment) {
	t.Helper()
	h, err := artifact.Handler(artifacts)
	if err != nil {
		t.Fatal(err)
	}
	url := serveTLS(t, ca, h)
	tlsDir := t.TempDir()
	cert, err := signer.Certify(d.Ref)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{service.CAFile: cert.CA, service.CertFile: cert.Chain, service.KeyFile: cert.Key} {
		if err := os.WriteFile(filepath.Join(tlsDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kept, err := filepath.Glob(filepath.Join(artifacts, d.Ref.Namespace, d.Ref.Name, "*"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("binaries kept for %s = %v, %v; want one", d.Ref, kept, err)
	}
	binary := filepath.Join(t.TempDir(), "service")
	if err := artifact.Fetch(t.Context(), fmt.Sprintf("%s/%s/%s/%s", url, d.Ref.Namespace, d.Ref.Name, filepath.Base(kept[0])), tlsDir, binary); err != nil {
		t.Fatalf("fetch the built binary as the pod would: %v", err)
	}
	if fi, err := os.Stat(binary); err != nil || fi.Size() < 1<<20 {
		t.Errorf("fetched binary: %v, %v; want a built program", fi, err)
	}
}

// workDir is a directory the namespaces' uids can search, as builds need
// when the tests run as root.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-kube-build-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// buildOptions installs the SDK and seeds the module downloads from this
// machine's module cache, as the local backend's tests do.
func buildOptions(t *testing.T, work string) build.Options {
	t.Helper()
	sdkParent := filepath.Join(work, "sdk")
	if err := os.MkdirAll(sdkParent, 0o755); err != nil {
		t.Fatal(err)
	}
	sdkDir, err := sdk.Install(sdkParent)
	if err != nil {
		t.Fatal(err)
	}
	modules := filepath.Join(work, "modules")
	if _, err := sdk.SeedModules(filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download"), modules); err != nil {
		t.Fatal(err)
	}
	return build.Options{SDKDir: sdkDir, SDKVersion: sdk.Version, ModuleDownloadDir: modules, Proxy: goEnv(t, "GOPROXY"), SumDB: "off"}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
