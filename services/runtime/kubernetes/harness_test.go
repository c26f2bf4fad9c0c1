package kubernetes_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/service"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/k8stest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/kubernetes"
	"m3o.dev/services/runtime/kubernetes/artifact"
	"m3o.dev/services/runtime/runtimetest"
)

func TestMain(m *testing.M) { k8stest.Main(m) }

// proxyLabels select the platform's proxy, as deploy/ labels it.
var proxyLabels = map[string]string{"app.kubernetes.io/name": "proxy"}

// platformNamespace is the core services' namespace, as deploy/ names it.
const platformNamespace = "m3o"

// newBackend returns a backend on the shared control plane, with a real
// workload CA.
func newBackend(t *testing.T) (*kubernetes.Backend, *k8stest.Cluster) {
	t.Helper()
	c := k8stest.Shared(t)
	signer := newSigner(t, mtlstest.NewCA(t))
	b, err := kubernetes.New(kubernetes.Options{
		Client: c.Client, Certs: signer, Image: "m3o/runner:test", ArtifactURL: "https://runtime.m3o.svc:8086/artifacts",
		PlatformNamespace: platformNamespace, ProxyLabels: proxyLabels, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, c
}

// roomy is a quota with room for everything the tests run.
var roomy = runtime.Quota{CPUMillis: 4000, MemoryMiB: 4096, Services: 10}

// deployment is generation gen of the service name of tenant ns.
func deployment(ns, name string, gen uint64, instances int, memMiB uint32, q runtime.Quota) runtime.Deployment {
	return runtime.Deployment{
		Ref: runtime.Ref{Namespace: ns, Name: name}, Generation: gen, Version: "v1",
		Source:    runtimetest.Program(runtimetest.Greeter, "k8s"),
		Env:       []string{"GREETING=hi", service.EnvAccountID + "=acct-1", service.EnvAccountSecret + "=s3cret"},
		Instances: instances, Resources: runtime.Resources{CPUMillis: 100, MemoryMiB: memMiB},
		Quota: q, Surge: true,
	}
}

// apply applies d and returns the rollout.
func apply(t *testing.T, b *kubernetes.Backend, d runtime.Deployment) runtime.Rollout {
	t.Helper()
	ro, err := b.Apply(t.Context(), d)
	if err != nil {
		t.Fatalf("Apply(%s generation %d) = %v", d.Ref, d.Generation, err)
	}
	return ro
}

// waitFor polls check until it passes, for as long as the control
// plane may take to act.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	coretest.EventuallyWithin(t, what, 2*time.Minute, check)
}

// buildTimeout bounds a build of the greeter, which on a cold cache
// compiles gRPC into the namespace's fresh build cache.
const buildTimeout = 15 * time.Minute

// pods waits until ref's Deployment has n pods and returns them.
func pods(t *testing.T, c *k8stest.Cluster, ref runtime.Ref, n int) []corev1.Pod {
	t.Helper()
	var list *corev1.PodList
	waitFor(t, fmt.Sprintf("%d pods of %s", n, ref), func() error {
		var err error
		list, err = c.Client.CoreV1().Pods(kubernetes.Namespace(ref.Namespace)).List(t.Context(),
			metav1.ListOptions{LabelSelector: kubernetes.LabelService + "=" + ref.Name})
		if err == nil && len(list.Items) != n {
			err = fmt.Errorf("%d pods", len(list.Items))
		}
		return err
	})
	return list.Items
}

// replicaSets returns the ReplicaSets of ref's Deployment.
func replicaSets(t *testing.T, c *k8stest.Cluster, ref runtime.Ref) []appsv1.ReplicaSet {
	t.Helper()
	list, err := c.Client.AppsV1().ReplicaSets(kubernetes.Namespace(ref.Namespace)).List(t.Context(),
		metav1.ListOptions{LabelSelector: kubernetes.LabelService + "=" + ref.Name})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// newSigner returns the runtime's signer over a workload CA under ca.
func newSigner(t *testing.T, ca *mtls.CA) *runtime.Signer {
	t.Helper()
	inter, err := ca.IssueIntermediate("test workload CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := runtime.NewSigner(inter, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// serveTLS serves h over mTLS as micro/runtime of ca, until the test
// ends, and returns its URL.
func serveTLS(t *testing.T, ca *mtls.CA, h http.Handler) string {
	t.Helper()
	bundle, err := ca.Issue(artifact.Runtime, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = bundle.ServerConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}
