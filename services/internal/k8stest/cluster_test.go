package k8stest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestMain(m *testing.M) { Main(m) }

// TestDeploymentMakesPods checks what the control plane is for: a
// Deployment becomes a ReplicaSet and admitted Pods, and quota admission
// refuses a Pod that would go over the namespace's quota.
func TestDeploymentMakesPods(t *testing.T) {
	c := Shared(t)
	ctx := t.Context()
	ns := createNamespace(t, c, "k8stest-deploy")
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "quota"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("1")}},
	}
	if _, err := c.Client.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the quota's status", func() error {
		q, err := c.Client.CoreV1().ResourceQuotas(ns).Get(ctx, "quota", metav1.GetOptions{})
		if err == nil && q.Status.Hard == nil {
			err = fmt.Errorf("no status yet")
		}
		return err
	})

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hello"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec:       podSpec("250m"),
			},
		},
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two Pods of the Deployment", func() error {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=hello"})
		if err == nil && len(pods.Items) != 2 {
			err = fmt.Errorf("%d pods", len(pods.Items))
		}
		return err
	})
	rs, err := c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=hello"})
	if err != nil || len(rs.Items) != 1 || rs.Items[0].OwnerReferences[0].Name != "hello" {
		t.Fatalf("ReplicaSets of Deployment hello = %v, %v; want one, owned by it", rs, err)
	}

	big := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: podSpec("800m")}
	_, err = c.Client.CoreV1().Pods(ns).Create(ctx, big, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota") {
		t.Errorf("Create(pod over the quota) = %v, want 403 exceeded quota", err)
	}
}

// TestChildrenDieWithTheTestBinary starts a control plane in a child test
// binary that then panics, and checks that no process of it outlives the
// child.
func TestChildrenDieWithTheTestBinary(t *testing.T) {
	if os.Getenv("K8STEST_PANIC_DIR") != "" {
		panicWithCluster()
		return
	}
	Shared(t) // builds the binaries, so the child does not
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildrenDieWithTheTestBinary$")
	cmd.Env = append(os.Environ(), "K8STEST_PANIC_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "k8stest: deliberate panic") {
		t.Fatalf("the child test binary ended with %v, want the deliberate panic:\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatalf("the child wrote no pids: %v\n%s", err, out)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 4 {
		t.Fatalf("the child wrote %q, want its directory and three pids", data)
	}
	t.Cleanup(func() { os.RemoveAll(fields[0]) }) // what a dying binary leaves behind
	for _, f := range fields[1:] {
		pid, _ := strconv.Atoi(f)
		waitFor(t, "process "+f+" to die", func() error {
			if alive(pid) {
				return fmt.Errorf("pid %d is alive", pid)
			}
			return nil
		})
	}
}

// panicWithCluster is the child of TestChildrenDieWithTheTestBinary.
func panicWithCluster() {
	c, err := Start(context.Background(), "")
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	pids := []string{c.dir}
	for _, p := range c.procs {
		pids = append(pids, strconv.Itoa(p.cmd.Process.Pid))
	}
	_ = os.WriteFile(filepath.Join(os.Getenv("K8STEST_PANIC_DIR"), "pids"), []byte(strings.Join(pids, " ")), 0o600)
	panic("k8stest: deliberate panic")
}

// alive reports whether pid is a process that has not exited; a zombie
// waiting for a parent that does not reap it has exited.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

func podSpec(cpu string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{
		Name:  "hello",
		Image: "hello",
		Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		},
	}}}
}

func createNamespace(t *testing.T, c *Cluster, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// waitFor polls check until it succeeds, for at most a minute.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
