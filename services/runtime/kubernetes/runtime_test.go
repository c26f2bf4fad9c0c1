package kubernetes_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/k8stest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/kubernetes"
	"m3o.dev/services/runtime/runtimetest"
)

// TestRuntimeOverKubernetes runs the runtime service over this backend,
// with a real store and auth: an admin's resize past the tenant's quota
// is ResourceExhausted from the runtime and leaves the Deployment as it
// was, and one within it changes the Deployment.
func TestRuntimeOverKubernetes(t *testing.T) {
	b, c := newBackend(t)
	p := coretest.New(t, platform.Store, platform.Auth, platform.Runtime)
	p.ServeStore(t)
	p.ServeAuth(t)
	p.Run(t, platform.Runtime, func(ctx context.Context, proc *corekit.Process) error {
		return proc.Serve(ctx, newRuntime(t, proc, b).Register, corekit.ServeOptions{})
	})
	_, token := p.Login(t, platform.Namespace, "admin", coretest.AdminPassword)
	admin := identity.WithBearer(t.Context(), token)
	rt := runtimev1.NewRuntimeServiceClient(p.Dial(t, p.Addr(platform.Runtime), platform.Namespace, platform.Proxy, coretest.Core(platform.Runtime)))
	p.Account(t, "kube-space", "owner")
	if _, err := rt.SetQuota(admin, &runtimev1.SetQuotaRequest{Namespace: "kube-space", Quota: &runtimev1.Quota{MemoryMib: 512}}); err != nil {
		t.Fatal(err)
	}
	src := uploadAs(t, rt, admin, "kube-space", "hello")
	_, err := rt.Create(admin, &runtimev1.CreateRequest{Namespace: "kube-space", Service: &runtimev1.Service{Name: "hello", Source: src},
		Options: &runtimev1.Options{Instances: 2, Resources: &runtimev1.Resources{MemoryMib: 128}}})
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	_, err = rt.Resize(admin, &runtimev1.ResizeRequest{Namespace: "kube-space", Name: "hello", Instances: 3, Resources: &runtimev1.Resources{MemoryMib: 256}})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "768 MiB of memory, over its quota of 512 MiB") {
		t.Errorf("Resize(3 x 256 MiB) under 512 MiB = %v, want ResourceExhausted naming the memory", err)
	}
	checkReplicas(t, c, "kube-space", "hello", 2)
	resp, err := rt.Resize(admin, &runtimev1.ResizeRequest{Namespace: "kube-space", Name: "hello", Instances: 4})
	if err != nil || resp.GetRestarts() {
		t.Fatalf("Resize(4 x 128 MiB) = %v, %v, want it applied without restarting pods", resp, err)
	}
	checkReplicas(t, c, "kube-space", "hello", 4)
	rq, err := c.Client.CoreV1().ResourceQuotas(kubernetes.Namespace("kube-space")).Get(t.Context(), "m3o-quota", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mem := rq.Spec.Hard[corev1.ResourceLimitsMemory]; mem.String() != "512Mi" {
		t.Errorf("ResourceQuota limits.memory = %s, want the tenant's 512Mi", mem.String())
	}
}

// newRuntime builds the runtime service over backend b in its process.
func newRuntime(t *testing.T, proc *corekit.Process, b runtime.Backend) *runtime.Service {
	t.Helper()
	storeConn, err := proc.Dial(platform.Store)
	if err != nil {
		t.Fatal(err)
	}
	authConn, err := proc.Dial(platform.Auth)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := runtime.New(runtime.Options{
		Store: storev1.NewStoreServiceClient(storeConn), Backend: b,
		Accounts: authv1.NewAccountsServiceClient(authConn), Namespaces: authv1.NewNamespacesServiceClient(authConn),
		Logger: slog.New(slog.DiscardHandler), ProxyAddress: "127.0.0.1:8081", TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// uploadAs uploads the greeter's source as the service name of ns.
func uploadAs(t *testing.T, rt runtimev1.RuntimeServiceClient, ctx context.Context, ns, name string) string {
	t.Helper()
	archive, err := runtimetest.Archive(runtimetest.Greeter)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rt.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&runtimev1.UploadRequest{Namespace: ns, Name: name, Chunk: bytes.Clone(archive)}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("Upload() = %v", err)
	}
	return resp.GetSourceId()
}

// checkReplicas fails unless the service's Deployment asks for n pods.
func checkReplicas(t *testing.T, c *k8stest.Cluster, ns, name string, n int32) {
	t.Helper()
	dep, err := c.Client.AppsV1().Deployments(kubernetes.Namespace(ns)).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != n {
		t.Errorf("Deployment %s/%s asks for %d pods, want %d", dep.Namespace, name, *dep.Spec.Replicas, n)
	}
}
