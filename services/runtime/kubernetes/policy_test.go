package kubernetes_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"m3o.dev/services/internal/k8stest"
	"m3o.dev/services/runtime/kubernetes"
)

// TestNetworkPolicySelectors evaluates the tenant's NetworkPolicy, as the
// API server stored it, against real pods: the tenant's own, a foreign
// tenant's, the platform's proxy and another core service. No network
// plugin runs here to enforce it, so the test applies the policy's
// selectors itself, with the semantics of networking/v1.
func TestNetworkPolicySelectors(t *testing.T) {
	b, c := newBackend(t)
	apply(t, b, deployment("home-space", "hello", 1, 1, 64, roomy))
	apply(t, b, deployment("away-space", "hello", 1, 1, 64, roomy))
	ensureNamespace(t, c, platformNamespace)
	own := pods(t, c, deployment("home-space", "hello", 1, 1, 64, roomy).Ref, 1)[0]
	foreign := pods(t, c, deployment("away-space", "hello", 1, 1, 64, roomy).Ref, 1)[0]
	proxy := corePod(t, c, "proxy", proxyLabels)
	store := corePod(t, c, "store", map[string]string{"app.kubernetes.io/name": "store"})
	np, err := c.Client.NetworkingV1().NetworkPolicies(kubernetes.Namespace("home-space")).Get(t.Context(), "m3o-ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.PodSelector.MatchLabels) != 0 || len(np.Spec.PodSelector.MatchExpressions) != 0 {
		t.Fatalf("policy %s selects %v, want every pod of the tenant", np.Name, np.Spec.PodSelector)
	}
	tests := []struct {
		name string
		from corev1.Pod
		want bool
	}{
		{"the tenant's own pod", own, true},
		{"a foreign tenant's pod", foreign, false},
		{"the platform's proxy", proxy, true},
		{"another core service", store, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := admits(t, c, np, tt.from); got != tt.want {
				t.Errorf("policy admits %s/%s (%v) = %v, want %v", tt.from.Namespace, tt.from.Name, tt.from.Labels, got, tt.want)
			}
		})
	}
}

// admits reports whether an ingress rule of np lets traffic from pod in.
func admits(t *testing.T, c *k8stest.Cluster, np *networkingv1.NetworkPolicy, pod corev1.Pod) bool {
	t.Helper()
	ns, err := c.Client.CoreV1().Namespaces().Get(t.Context(), pod.Namespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range np.Spec.Ingress {
		for _, peer := range rule.From {
			if peerMatches(t, np.Namespace, peer, pod, ns) {
				return true
			}
		}
	}
	return false
}

// peerMatches applies a peer: a pod selector alone selects pods of the
// policy's namespace; with a namespace selector, pods of the namespaces it
// selects.
func peerMatches(t *testing.T, policyNS string, peer networkingv1.NetworkPolicyPeer, pod corev1.Pod, ns *corev1.Namespace) bool {
	t.Helper()
	if peer.IPBlock != nil {
		t.Fatalf("peer %v admits by address, which no selector can bound", peer)
	}
	if peer.NamespaceSelector == nil {
		return pod.Namespace == policyNS && selects(t, peer.PodSelector, pod.Labels)
	}
	return selects(t, peer.NamespaceSelector, ns.Labels) && (peer.PodSelector == nil || selects(t, peer.PodSelector, pod.Labels))
}

func selects(t *testing.T, s *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel.Matches(labels.Set(l))
}

// ensureNamespace makes namespace name unless it exists.
func ensureNamespace(t *testing.T, c *k8stest.Cluster, name string) {
	t.Helper()
	_, err := c.Client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// corePod creates a pod of the platform's namespace with the given labels.
func corePod(t *testing.T, c *k8stest.Cluster, name string, l map[string]string) corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-policy-test", Namespace: platformNamespace, Labels: l},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "m3o"}}},
	}
	var created *corev1.Pod
	// Admission waits for the namespace's default service account, which
	// the controller manager makes shortly after the namespace.
	waitFor(t, "create pod "+p.Name, func() error {
		var err error
		created, err = c.Client.CoreV1().Pods(platformNamespace).Create(t.Context(), p, metav1.CreateOptions{})
		return err
	})
	return *created
}
