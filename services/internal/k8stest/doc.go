// Package k8stest runs a real Kubernetes control plane for tests:
// etcd, kube-apiserver and kube-controller-manager, built from the Go
// modules that scripts/k8s pins (scripts/k8s-bin.sh), each a process of its
// own on free loopback ports, with mutual TLS between them and a
// system:masters client certificate for the tests.
//
// The API server runs the admission a production cluster does (namespace
// lifecycle, limit ranges, service accounts, resource quotas and pod
// security), and the controller manager turns Deployments into ReplicaSets
// and Pods, StatefulSets into Pods and claims, and computes the status of
// PodDisruptionBudgets. No scheduler or kubelet runs: Pods stay Pending,
// and nothing enforces NetworkPolicies.
//
// A package uses it through its TestMain, so that the control plane is
// stopped however the tests end:
//
//	func TestMain(m *testing.M) { k8stest.Main(m) }
//
//	func TestDeploy(t *testing.T) {
//		c := k8stest.Shared(t)
//		_, err := c.Client.AppsV1().Deployments("demo").Create(t.Context(), d, metav1.CreateOptions{})
//		...
//	}
//
// The binaries come from the directory named by M3O_K8S_BIN; when it is
// unset they are built on first use (about ten minutes cold on two cores,
// a few seconds once Go's build cache has them).
package k8stest
