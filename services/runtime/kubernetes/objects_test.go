package kubernetes_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"m3o.dev/services/internal/k8stest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/kubernetes"
)

// TestCreateResizeDelete takes a service through its life on the API
// server: the tenant's first Create makes its namespace, quota, limits and
// policy; 2 instances make a ReplicaSet asking for 2 pods; a resize to 3
// instances of 256 MiB changes the Deployment and rolls a new ReplicaSet,
// surging; a change of replicas alone restarts nothing; Delete removes
// everything Create made.
func TestCreateResizeDelete(t *testing.T) {
	b, c := newBackend(t)
	d := deployment("life-space", "hello", 1, 2, 128, roomy)
	if ro := apply(t, b, d); ro.Strategy != runtime.StrategyNone {
		t.Errorf("first Apply rollout = %q, want none", ro.Strategy)
	}
	checkTenant(t, c, "life-space", roomy)
	waitFor(t, "a ReplicaSet asking for 2 pods", func() error {
		rs := replicaSets(t, c, d.Ref)
		if len(rs) != 1 || *rs[0].Spec.Replicas != 2 {
			return fmt.Errorf("ReplicaSets %d, want 1 of 2 replicas", len(rs))
		}
		return nil
	})
	pods(t, c, d.Ref, 2)

	d.Generation, d.Instances, d.Resources.MemoryMiB = 2, 3, 256
	if ro := apply(t, b, d); ro.Strategy != runtime.StrategySurge {
		t.Errorf("Apply(3 x 256 MiB) rollout = %q, want surge: the resources changed and the quota has room", ro.Strategy)
	}
	dep, err := c.Client.AppsV1().Deployments("m3o-life-space").Get(t.Context(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	limit := dep.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
	if *dep.Spec.Replicas != 3 || !limit.Equal(resource.MustParse("256Mi")) || dep.Spec.Strategy.RollingUpdate.MaxSurge.IntValue() != 1 {
		t.Errorf("Deployment after the resize: %d replicas, memory %s, strategy %+v; want 3, 256Mi, maxSurge 1",
			*dep.Spec.Replicas, limit.String(), dep.Spec.Strategy.RollingUpdate)
	}
	waitFor(t, "a ReplicaSet of 256 MiB pods", func() error {
		for _, rs := range replicaSets(t, c, d.Ref) {
			if m := rs.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; m.Equal(resource.MustParse("256Mi")) && *rs.Spec.Replicas > 0 {
				return nil
			}
		}
		return errors.New("none yet")
	})
	d.Generation, d.Instances = 3, 4
	if ro := apply(t, b, d); ro.Strategy != runtime.StrategyNone {
		t.Errorf("Apply(replicas only) rollout = %q, want none", ro.Strategy)
	}
	tight := d
	tight.Generation, tight.Env, tight.Surge = 4, append([]string{"GREETING=hello"}, d.Env[1:]...), false
	if ro := apply(t, b, tight); ro.Strategy != runtime.StrategyOneAtATime {
		t.Errorf("Apply(new environment, no room to surge) rollout = %q, want one at a time", ro.Strategy)
	}
	dep, err = c.Client.AppsV1().Deployments("m3o-life-space").Get(t.Context(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ru := dep.Spec.Strategy.RollingUpdate; ru.MaxSurge.IntValue() != 0 || ru.MaxUnavailable.IntValue() != 1 {
		t.Errorf("strategy without room to surge = %+v, want maxSurge 0 and maxUnavailable 1", ru)
	}
	older := d
	older.Generation, older.Instances, older.Env = 2, 1, []string{"GREETING=stale"}
	apply(t, b, older)
	secret, err := c.Client.CoreV1().Secrets("m3o-life-space").Get(t.Context(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep, _ := c.Client.AppsV1().Deployments("m3o-life-space").Get(t.Context(), "hello", metav1.GetOptions{}); *dep.Spec.Replicas != 4 || string(secret.Data["env.GREETING"]) != "hello" {
		t.Errorf("after applying generation 2 over 4: %d replicas, GREETING %q; want generation 4's 4 and %q", *dep.Spec.Replicas, secret.Data["env.GREETING"], "hello")
	}

	if err := b.Delete(t.Context(), d.Ref); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	checkGone(t, c, "life-space", "hello")
}

// checkTenant checks the tenant's namespace and the objects in it.
func checkTenant(t *testing.T, c *k8stest.Cluster, ns string, q runtime.Quota) {
	t.Helper()
	ctx, kns := t.Context(), kubernetes.Namespace(ns)
	if n, err := c.Client.CoreV1().Namespaces().Get(ctx, kns, metav1.GetOptions{}); err != nil || n.Labels[kubernetes.LabelNamespace] != ns {
		t.Fatalf("namespace %s = %v, %v; want it labelled with its tenant", kns, n, err)
	}
	rq, err := c.Client.CoreV1().ResourceQuotas(kns).Get(ctx, "m3o-quota", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ResourceQuota: %v", err)
	}
	mem, cpu := rq.Spec.Hard[corev1.ResourceLimitsMemory], rq.Spec.Hard[corev1.ResourceRequestsCPU]
	if mem.Value() != int64(q.MemoryMiB)<<20 || cpu.MilliValue() != int64(q.CPUMillis) {
		t.Errorf("ResourceQuota hard = %v, want %d MiB and %dm", rq.Spec.Hard, q.MemoryMiB, q.CPUMillis)
	}
	if _, err := c.Client.CoreV1().LimitRanges(kns).Get(ctx, "m3o-limits", metav1.GetOptions{}); err != nil {
		t.Errorf("LimitRange: %v", err)
	}
	if _, err := c.Client.NetworkingV1().NetworkPolicies(kns).Get(ctx, "m3o-ingress", metav1.GetOptions{}); err != nil {
		t.Errorf("NetworkPolicy: %v", err)
	}
}

// checkGone waits until nothing Create made is left: the service's
// objects and, with its last service, the tenant's namespace.
func checkGone(t *testing.T, c *k8stest.Cluster, ns, name string) {
	t.Helper()
	ctx, kns := t.Context(), kubernetes.Namespace(ns)
	for what, get := range map[string]func() error{
		"Deployment": func() error {
			_, err := c.Client.AppsV1().Deployments(kns).Get(ctx, name, metav1.GetOptions{})
			return err
		},
		"Service": func() error {
			_, err := c.Client.CoreV1().Services(kns).Get(ctx, name, metav1.GetOptions{})
			return err
		},
		"Secret":    func() error { _, err := c.Client.CoreV1().Secrets(kns).Get(ctx, name, metav1.GetOptions{}); return err },
		"Namespace": func() error { _, err := c.Client.CoreV1().Namespaces().Get(ctx, kns, metav1.GetOptions{}); return err },
	} {
		waitFor(t, what+" deleted", func() error {
			if err := get(); !apierrors.IsNotFound(err) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
	}
}

// TestQuotaEnforcedByAPIServer applies, with no check by the runtime, a
// deployment past the tenant's quota: the API server refuses the pod that
// does not fit under the ResourceQuota the backend wrote, and Status says
// so.
func TestQuotaEnforcedByAPIServer(t *testing.T) {
	b, c := newBackend(t)
	q := runtime.Quota{CPUMillis: 1000, MemoryMiB: 512, Services: 10}
	d := deployment("over-space", "hello", 1, 3, 256, q)
	d.Surge = false
	apply(t, b, d)
	waitFor(t, "a ReplicaSet refused for the quota", func() error {
		for _, rs := range replicaSets(t, c, d.Ref) {
			for _, cond := range rs.Status.Conditions {
				if cond.Type == "ReplicaFailure" && strings.Contains(cond.Message, "exceeded quota") && strings.Contains(cond.Message, "m3o-quota") {
					return nil
				}
			}
		}
		return errors.New("no ReplicaFailure condition naming m3o-quota yet")
	})
	pods(t, c, d.Ref, 2)
	waitFor(t, "Status in error for the quota", func() error {
		st, err := b.Status(t.Context(), d.Ref)
		if err == nil && (st.State != runtime.StateError || !strings.Contains(st.Reason, "exceeded quota")) {
			err = fmt.Errorf("status %+v", st)
		}
		return err
	})
}

// TestObjectsStayInTheTenantsNamespace runs services of two tenants and
// checks that every object the backend made lies in the namespace of the
// tenant it belongs to.
func TestObjectsStayInTheTenantsNamespace(t *testing.T) {
	b, c := newBackend(t)
	apply(t, b, deployment("iso-one", "hello", 1, 1, 64, roomy))
	apply(t, b, deployment("iso-two", "hello", 1, 1, 64, roomy))
	sel := metav1.ListOptions{LabelSelector: kubernetes.LabelManaged}
	ctx := t.Context()
	var seen int
	check := func(kind, ns string, labels map[string]string) {
		seen++
		if tenant := labels[kubernetes.LabelNamespace]; ns != kubernetes.Namespace(tenant) {
			t.Errorf("%s of tenant %q lies in namespace %q", kind, tenant, ns)
		}
	}
	deps, _ := c.Client.AppsV1().Deployments("").List(ctx, sel)
	for _, o := range deps.Items {
		check("Deployment", o.Namespace, o.Labels)
	}
	secrets, _ := c.Client.CoreV1().Secrets("").List(ctx, sel)
	for _, o := range secrets.Items {
		check("Secret", o.Namespace, o.Labels)
	}
	svcs, _ := c.Client.CoreV1().Services("").List(ctx, sel)
	for _, o := range svcs.Items {
		check("Service", o.Namespace, o.Labels)
	}
	for _, ns := range []string{"iso-one", "iso-two"} {
		if list, _ := c.Client.CoreV1().Secrets(kubernetes.Namespace(ns)).List(ctx, sel); len(list.Items) != 1 {
			t.Errorf("secrets of %s = %d, want its one service's", ns, len(list.Items))
		}
	}
	if seen < 6 {
		t.Errorf("saw %d objects of the backend, want at least 6", seen)
	}
}
