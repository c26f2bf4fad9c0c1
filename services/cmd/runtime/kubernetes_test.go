package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/k8stest"
	"m3o.dev/services/runtime/runtimetest"
)

func TestMain(m *testing.M) { k8stest.Main(m) }

// TestRunKubernetes runs the runtime binary with the kubernetes backend
// against a real API server, store, auth and registry: a tenant's service
// is built and becomes a Deployment, and the entrypoint of its pods, run
// here as a local process with the instance certificate from the Secret
// the runtime wrote, fetches the binary from the runtime over mTLS and
// runs it.
func TestRunKubernetes(t *testing.T) {
	c := k8stest.Shared(t)
	p := coretest.New(t, platform.Store, platform.Auth, platform.Registry)
	p.ServeStore(t)
	p.ServeAuth(t)
	p.ServeRegistry(t)
	args := append(corekittest.CertFlags(t, p.CA, "runtime"), workloadCAFlags(t, p.CA)...)
	args = append(args, "--work-dir", workDir(t), "--proxy-address", "127.0.0.1:8081",
		"--store-address", p.Addr(platform.Store), "--auth-address", p.Addr(platform.Auth), "--registry-address", p.Addr(platform.Registry),
		"--backend", "kubernetes", "--kubeconfig", c.Kubeconfig, "--kube-image", "m3o/runner:test",
		"--kube-artifact-url", "https://runtime.m3o.svc:8088", "--artifact-address", "127.0.0.1:0",
		"--module-cache", filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download"), "--go-proxy", goEnv(t, "GOPROXY"), "--go-sumdb", "off")
	rt := corekittest.Start(t, newApp(), args...)

	p.Account(t, "cmd-space", "owner")
	_, token := p.Login(t, platform.Namespace, "admin", coretest.AdminPassword)
	admin := identity.WithBearer(t.Context(), token)
	client := runtimev1.NewRuntimeServiceClient(p.Dial(t, rt.Address, platform.Namespace, platform.Proxy, coretest.Core(platform.Runtime)))
	create(t, client, admin, "cmd-space", "hello")
	var dep *corev1.Container
	coretest.EventuallyWithin(t, "the Deployment, once built", 15*time.Minute, func() error {
		d, err := c.Client.AppsV1().Deployments("m3o-cmd-space").Get(t.Context(), "hello", metav1.GetOptions{})
		if err != nil {
			resp, _ := client.Read(admin, &runtimev1.ReadRequest{Namespace: "cmd-space", Name: "hello"})
			if svc := resp.GetServices(); len(svc) == 1 && svc[0].GetStatus() == runtimev1.Status_STATUS_ERROR {
				t.Fatalf("the service failed: %s", svc[0].GetError())
			}
			return err
		}
		dep = &d.Spec.Template.Spec.Containers[0]
		return nil
	})
	fetchURL := podURL(t, dep, artifactAddress(t, rt.Logs()))
	out := runEntrypoint(t, fetchURL, tlsFromSecret(t, c))
	if !strings.Contains(out, "greeting: from the pod") {
		t.Errorf("entrypoint output %q, want the fetched greeter's greeting", out)
	}
}

// create uploads the greeter and creates it in ns as the admin.
func create(t *testing.T, client runtimev1.RuntimeServiceClient, ctx context.Context, ns, name string) {
	t.Helper()
	archive, err := runtimetest.Archive(runtimetest.Greeter)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := client.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&runtimev1.UploadRequest{Namespace: ns, Name: name, Chunk: archive}); err != nil {
		t.Fatal(err)
	}
	up, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("Upload() = %v", err)
	}
	_, err = client.Create(ctx, &runtimev1.CreateRequest{Namespace: ns, Service: &runtimev1.Service{Name: name, Source: up.GetSourceId()},
		Options: &runtimev1.Options{Env: map[string]string{"GREETING": "from the pod", "MODE": "crash"}}})
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
}

// artifactAddress reads where the runtime serves binaries from its log.
func artifactAddress(t *testing.T, logs string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"artifact_address"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Addr != "" {
			return rec.Addr
		}
	}
	t.Fatalf("the runtime did not log its artifact address:\n%s", logs)
	return ""
}

// podURL is the pod's M3O_ARTIFACT_URL, aimed at addr, where this test
// reaches the runtime, instead of the cluster's address of it.
func podURL(t *testing.T, c *corev1.Container, addr string) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == "M3O_ARTIFACT_URL" {
			u, err := url.Parse(e.Value)
			if err != nil {
				t.Fatal(err)
			}
			u.Host = addr
			return u.String()
		}
	}
	t.Fatalf("the pod's container has no M3O_ARTIFACT_URL: %v", c.Env)
	return ""
}

// tlsFromSecret writes the instance certificate of the Secret the runtime
// wrote as a pod mounts it, and returns the directory.
func tlsFromSecret(t *testing.T, c *k8stest.Cluster) string {
	t.Helper()
	s, err := c.Client.CoreV1().Secrets("m3o-cmd-space").Get(t.Context(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{service.CAFile, service.CertFile, service.KeyFile} {
		if err := os.WriteFile(filepath.Join(dir, name), s.Data[name], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runEntrypoint builds services/cmd/entrypoint and runs it as the pod
// would, returning what the fetched program printed.
func runEntrypoint(t *testing.T, fetchURL, tlsDir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "entrypoint")
	if out, err := exec.Command("go", "build", "-o", bin, "m3o.dev/services/cmd/entrypoint").CombinedOutput(); err != nil {
		t.Fatalf("go build entrypoint: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"M3O_ARTIFACT_URL=" + fetchURL, "MICRO_TLS_DIR=" + tlsDir, "M3O_BINARY=" + filepath.Join(t.TempDir(), "service"),
		"GREETING=from the pod", "MODE=crash"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if !strings.Contains(stderr.String(), "crashing as asked") {
		t.Fatalf("entrypoint = %v, stderr %q: want the fetched greeter to run", err, stderr.String())
	}
	return stdout.String()
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
