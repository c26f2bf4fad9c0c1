package kubernetes_test

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"m3o.dev/services/internal/k8stest"
	"m3o.dev/services/runtime"
)

// TestStatusFromPods patches the pods' status as a kubelet would: a
// container in a crash loop, then one killed for its memory, each puts
// the service in error with the reason; ready pods make it running.
func TestStatusFromPods(t *testing.T) {
	b, c := newBackend(t)
	tests := []struct {
		name   string
		status corev1.ContainerStatus
		want   []string
	}{
		{"crashy", corev1.ContainerStatus{
			Name: "service", RestartCount: 5,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 2m40s restarting failed container"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}},
		}, []string{"CrashLoopBackOff", "exit status 1", "5 restarts"}},
		{"quitter", corev1.ContainerStatus{
			Name: "service", RestartCount: 3,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}},
		}, []string{"CrashLoopBackOff", "last exit status 0", "3 restarts", runtime.MainReturned}},
		{"hog", corev1.ContainerStatus{
			Name: "service", RestartCount: 2,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}},
		}, []string{"OOM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment("status-space", tt.name, 1, 1, 64, roomy)
			apply(t, b, d)
			p := pods(t, c, d.Ref, 1)[0]
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{tt.status}
			if _, err := c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(t.Context(), &p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			st, err := b.Status(t.Context(), d.Ref)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != runtime.StateError || len(st.Instances) != 1 || st.Instances[0].State != runtime.StateError {
				t.Fatalf("Status() = %+v, want error", st)
			}
			for _, w := range tt.want {
				if !strings.Contains(st.Reason, w) {
					t.Errorf("reason %q, want it to name %q", st.Reason, w)
				}
			}
		})
	}
	t.Run("ready", func(t *testing.T) {
		d := deployment("status-space", "fine", 1, 1, 64, roomy)
		apply(t, b, d)
		p := pods(t, c, d.Ref, 1)[0]
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "service", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
		if _, err := c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(t.Context(), &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "running", func() error {
			st, err := b.Status(t.Context(), d.Ref)
			if err == nil && (st.State != runtime.StateRunning || st.RunningGeneration != 1) {
				err = fmt.Errorf("status %+v", st)
			}
			return err
		})
	})
}

// TestLogsMerged places two replicas on a Node whose kubelet is a local
// HTTPS server, which serves each pod's lines with timestamps: Logs reads
// both through the API server and merges them by time.
func TestLogsMerged(t *testing.T) {
	b, c := newBackend(t)
	d := deployment("logs-space", "hello", 1, 2, 64, roomy)
	apply(t, b, d)
	ps := pods(t, c, d.Ref, 2)
	// Instances are numbered oldest pod first, then by name, as in Status;
	// the API server lists pods by name, and the two may be created in
	// different seconds.
	slices.SortFunc(ps, func(a, b corev1.Pod) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lines := map[string][]string{}
	for i, p := range ps {
		for j := range 3 {
			at := base.Add(time.Duration(2*j+i) * time.Second)
			lines[p.Name] = append(lines[p.Name], fmt.Sprintf("%s line %d of pod %d", at.Format(time.RFC3339Nano), 2*j+i, i+1))
		}
	}
	node := fakeKubelet(t, c, lines)
	for _, p := range ps {
		bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: p.Name}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
		if err := c.Client.CoreV1().Pods(p.Namespace).Bind(t.Context(), bind, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := b.Logs(t.Context(), d.Ref, runtime.LogOptions{Count: 100}, func(l runtime.LogLine) error {
		got = append(got, fmt.Sprintf("%d %s", l.Instance, l.Text))
		return nil
	})
	if err != nil {
		t.Fatalf("Logs() = %v", err)
	}
	want := []string{"1 line 0 of pod 1", "2 line 1 of pod 2", "1 line 2 of pod 1", "2 line 3 of pod 2", "1 line 4 of pod 1", "2 line 5 of pod 2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Logs() =\n%s\nwant, merged by time,\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// fakeKubelet serves /containerLogs/<ns>/<pod>/service from lines, and
// registers a Node whose kubelet it is; it returns the Node's name.
func fakeKubelet(t *testing.T, c *k8stest.Cluster, lines map[string][]string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
		if len(parts) != 3 || parts[2] != "service" || r.URL.Query().Get("timestamps") != "true" {
			http.Error(w, "unexpected request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		for _, l := range lines[parts[1]] {
			fmt.Fprintln(w, l)
		}
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "fake-kubelet-" + strings.ToLower(t.Name())},
		Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(p)}},
		},
	}
	if _, err := c.Client.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The node lifecycle controller changes a new Node too: retry on its
	// conflicts.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.Client.CoreV1().Nodes().Get(t.Context(), node.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Addresses, cur.Status.DaemonEndpoints = node.Status.Addresses, node.Status.DaemonEndpoints
		_, err = c.Client.CoreV1().Nodes().UpdateStatus(t.Context(), cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Client.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{}) })
	return node.Name
}
