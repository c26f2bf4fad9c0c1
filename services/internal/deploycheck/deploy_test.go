package deploycheck

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"m3o.dev/services/internal/k8stest"
)

// TestDeploy applies each overlay, with the Secrets of scripts/certs.sh,
// to a real API server and controller manager, and checks what they make
// of it: every object passes validation and admission (pod security's
// restricted profile included) without a warning; every Deployment rolls
// out a ReplicaSet and its Pods; every StatefulSet makes its Pods and
// claims; every PodDisruptionBudget covers its workload's Pods; every
// Service selects the Pods of its own workload, on ports they have; and
// every file a container is told to read is a key of the Secret mounted
// there. Pods stay Pending: nothing schedules or runs them here.
func TestDeploy(t *testing.T) {
	c := k8stest.Shared(t)
	certs := t.TempDir()
	runCerts(t, certs)
	secrets := render(t, certs)
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			ns := "m3o-" + overlay
			objs := inNamespace(append(renderOverlay(t, overlay), secrets...), ns)
			objs = append(objs,
				secretLiteral(ns, "m3o-admin", "password", "not-a-real-password"),
				secretLiteral(ns, "m3o-config-key", "key", "bm90LWEtcmVhbC1rZXktbm90LWEtcmVhbC1rZXkh"),
				secretLiteral(ns, "m3o-auth-kek", "key", "bm90LWEtcmVhbC1rZXktbm90LWEtcmVhbC1rZXkh"),
				secretLiteral(ns, "m3o-billing", "stripe-key", "sk_test_not_real", "stripe-webhook-secret", "whsec_not_real",
					"stripe-price", "price_not_real", "public-url", "https://api.example.com"))
			a := newApplier(t, c)
			a.applyAll(t, objs)
			if t.Failed() {
				t.FailNow()
			}
			v := view{t: t, client: a.client, ns: ns}
			for _, u := range objs {
				switch u.GetKind() {
				case "Deployment":
					v.checkDeployment(u)
				case "StatefulSet":
					v.checkStatefulSet(u)
				case "PodDisruptionBudget":
					v.checkPDB(u, objs)
				}
			}
			for _, u := range objs {
				if u.GetKind() == "Service" {
					v.checkService(u)
				}
			}
			v.checkSecretFiles()
		})
	}
}

// view checks the objects of one namespace.
type view struct {
	t      *testing.T
	client kubernetes.Interface
	ns     string
}

func (v view) pods(selector string) ([]corev1.Pod, error) {
	list, err := v.client.CoreV1().Pods(v.ns).List(v.t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// checkDeployment waits for the Deployment's ReplicaSet to have made
// spec.replicas Pods.
func (v view) checkDeployment(u *unstructured.Unstructured) {
	var d appsv1.Deployment
	decode(v.t, u, &d)
	want := deref(d.Spec.Replicas)
	eventually(v.t, nameOf(u)+" rolls out", func() error {
		rss, err := v.client.AppsV1().ReplicaSets(v.ns).List(v.t.Context(), metav1.ListOptions{LabelSelector: selectorOf(v.t, d.Spec.Selector)})
		if err != nil {
			return err
		}
		if len(rss.Items) != 1 || !ownedBy(rss.Items[0].ObjectMeta, "Deployment", d.Name) {
			return fmt.Errorf("%d ReplicaSets, want one owned by the Deployment", len(rss.Items))
		}
		if got := rss.Items[0].Status.Replicas; got != want {
			return fmt.Errorf("ReplicaSet %s has %d Pods, want %d", rss.Items[0].Name, got, want)
		}
		return nil
	})
}

// checkStatefulSet waits for the StatefulSet's Pods and claims, named by
// ordinal, and requires its serviceName to be a headless Service.
func (v view) checkStatefulSet(u *unstructured.Unstructured) {
	var s appsv1.StatefulSet
	decode(v.t, u, &s)
	ctx := v.t.Context()
	for i := range deref(s.Spec.Replicas) {
		pod := fmt.Sprintf("%s-%d", s.Name, i)
		eventually(v.t, "Pod "+pod, func() error {
			_, err := v.client.CoreV1().Pods(v.ns).Get(ctx, pod, metav1.GetOptions{})
			return err
		})
		for _, claim := range s.Spec.VolumeClaimTemplates {
			pvc := claim.Name + "-" + pod
			eventually(v.t, "PersistentVolumeClaim "+pvc, func() error {
				_, err := v.client.CoreV1().PersistentVolumeClaims(v.ns).Get(ctx, pvc, metav1.GetOptions{})
				return err
			})
		}
	}
	svc, err := v.client.CoreV1().Services(v.ns).Get(ctx, s.Spec.ServiceName, metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		v.t.Errorf("StatefulSet %s: serviceName %q is not a headless Service (%v)", s.Name, s.Spec.ServiceName, err)
	}
}

// checkPDB waits for the disruption controller to count, as the budget's
// Pods, exactly the replicas of the one workload it selects.
func (v view) checkPDB(u *unstructured.Unstructured, objs []*unstructured.Unstructured) {
	var pdb policyv1.PodDisruptionBudget
	decode(v.t, u, &pdb)
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		v.t.Fatal(err)
	}
	var want int32
	var selected []string
	for _, w := range workloads(v.t, objs) {
		if w.kind != "Job" && sel.Matches(labels.Set(w.template.Labels)) {
			want += w.replicas
			selected = append(selected, w.name)
		}
	}
	if len(selected) != 1 {
		v.t.Errorf("PodDisruptionBudget %s selects the workloads %v, want one", pdb.Name, selected)
	}
	eventually(v.t, nameOf(u)+" counts its Pods", func() error {
		got, err := v.client.PolicyV1().PodDisruptionBudgets(v.ns).Get(v.t.Context(), pdb.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.ObservedGeneration != got.Generation || got.Status.ExpectedPods != want {
			return fmt.Errorf("expects %d Pods at generation %d, want %d at %d", got.Status.ExpectedPods, got.Status.ObservedGeneration, want, got.Generation)
		}
		return nil
	})
}

// checkService requires the Service to select Pods of one workload only,
// whose name label is the Service's, and each target port to be a port
// of theirs.
func (v view) checkService(u *unstructured.Unstructured) {
	var svc corev1.Service
	decode(v.t, u, &svc)
	pods, err := v.pods(labels.SelectorFromSet(svc.Spec.Selector).String())
	if err != nil || len(pods) == 0 {
		v.t.Errorf("Service %s selects no Pods (%v)", svc.Name, err)
		return
	}
	owners := map[string]bool{}
	for _, p := range pods {
		owners[v.workloadOf(p)] = true
		if p.Labels["app.kubernetes.io/name"] != svc.Labels["app.kubernetes.io/name"] {
			v.t.Errorf("Service %s selects Pod %s of %s", svc.Name, p.Name, p.Labels["app.kubernetes.io/name"])
		}
		for _, port := range svc.Spec.Ports {
			if !podHasPort(p, port) {
				v.t.Errorf("Service %s port %s targets %s, which Pod %s does not have", svc.Name, port.Name, port.TargetPort.String(), p.Name)
			}
		}
	}
	if len(owners) != 1 {
		v.t.Errorf("Service %s selects the Pods of %v, want one workload's", svc.Name, slices.Sorted(maps.Keys(owners)))
	}
}

// workloadOf names the workload that made the Pod, through its
// ReplicaSet for a Deployment's.
func (v view) workloadOf(p corev1.Pod) string {
	owner := metav1.GetControllerOf(&p)
	if owner == nil {
		return "none"
	}
	if owner.Kind != "ReplicaSet" {
		return owner.Kind + "/" + owner.Name
	}
	rs, err := v.client.AppsV1().ReplicaSets(v.ns).Get(v.t.Context(), owner.Name, metav1.GetOptions{})
	if err != nil {
		return "ReplicaSet/" + owner.Name
	}
	if d := metav1.GetControllerOf(rs); d != nil {
		return d.Kind + "/" + d.Name
	}
	return "ReplicaSet/" + owner.Name
}

// secretPath matches absolute file paths in a container's environment and
// arguments, DSN parameters included.
var secretPath = regexp.MustCompile(`/[A-Za-z0-9._/-]+`)

// checkSecretFiles requires, in one Pod of every workload, every Secret
// mounted or referenced to exist with the keys used, and every file named
// under a Secret's mount to be one of that Secret's keys: the Secrets
// scripts/certs.sh writes hold every file the manifests read.
func (v view) checkSecretFiles() {
	pods, err := v.pods("")
	if err != nil {
		v.t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pods {
		w := v.workloadOf(p)
		if seen[w] {
			continue
		}
		seen[w] = true
		for _, c := range p.Spec.Containers {
			v.checkContainerSecrets(p, c)
		}
	}
}

func (v view) checkContainerSecrets(p corev1.Pod, c corev1.Container) {
	var texts []string
	for _, e := range c.Env {
		texts = append(texts, e.Value)
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			v.requireKey(p, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
		}
	}
	texts = append(append(texts, c.Args...), c.Command...)
	for _, m := range c.VolumeMounts {
		vol := volumeNamed(p.Spec, m.Name)
		if vol == nil || vol.Secret == nil {
			continue
		}
		v.requireKey(p, vol.Secret.SecretName, "")
		for _, key := range cockroachCerts(c, texts, m.MountPath) {
			v.requireKey(p, vol.Secret.SecretName, key)
		}
		for _, text := range texts {
			for _, path := range secretPath.FindAllString(text, -1) {
				if key, ok := cutDir(path, m.MountPath); ok {
					v.requireKey(p, vol.Secret.SecretName, key)
				}
			}
		}
	}
}

// cockroachCerts returns the files `cockroach --certs-dir=dir` reads: the
// CA and the node's pair for `cockroach start`, root's pair for the
// client commands.
func cockroachCerts(c corev1.Container, texts []string, dir string) []string {
	if !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, "--certs-dir="+dir) }) {
		return nil
	}
	if slices.Contains(c.Args, "start") {
		return []string{"ca.crt", "node.crt", "node.key"}
	}
	return []string{"ca.crt", "client.root.crt", "client.root.key"}
}

// requireKey requires the Secret to exist and, unless key is empty, to
// hold key.
func (v view) requireKey(p corev1.Pod, secret, key string) {
	s, err := v.client.CoreV1().Secrets(v.ns).Get(v.t.Context(), secret, metav1.GetOptions{})
	if err != nil {
		v.t.Errorf("Pod %s: Secret %s: %v", p.Name, secret, err)
		return
	}
	if _, ok := s.Data[key]; key != "" && !ok {
		v.t.Errorf("Pod %s reads %s from Secret %s, which has no such key", p.Name, key, secret)
	}
}

// TestAPIServerRefusesBrokenManifests shows that the API server's
// validation is what TestDeploy relies on: a broken Deployment or Service
// is refused with 422, a misspelt field with 400.
func TestAPIServerRefusesBrokenManifests(t *testing.T) {
	c := k8stest.Shared(t)
	a := newApplier(t, c)
	ns := "m3o-broken"
	objs := inNamespace(renderOverlay(t, "production"), ns)
	if err := a.create(t, find(t, objs, "Namespace", ns)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		kind     string
		object   string
		breakIt  func(map[string]any)
		wantCode int32
	}{
		{"selector does not match the Pods' labels", "Deployment", "store", func(o map[string]any) {
			setPath(o, map[string]any{"app.kubernetes.io/name": "nobody"}, "spec", "selector", "matchLabels")
		}, http.StatusUnprocessableEntity},
		{"port out of range", "Service", "store", func(o map[string]any) {
			setPath(o, []any{map[string]any{"name": "grpc", "port": int64(70000)}}, "spec", "ports")
		}, http.StatusUnprocessableEntity},
		{"probe without a handler", "Deployment", "auth", func(o map[string]any) {
			c := getPath(o, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
			c["readinessProbe"] = map[string]any{"periodSeconds": int64(5)}
		}, http.StatusUnprocessableEntity},
		{"misspelt field", "Deployment", "config", func(o map[string]any) {
			setPath(o, int64(2), "spec", "replicass")
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := find(t, objs, tt.kind, tt.object).DeepCopy()
			tt.breakIt(u.Object)
			err := a.create(t, u)
			var status apierrors.APIStatus
			if !errors.As(err, &status) || status.Status().Code != tt.wantCode {
				t.Errorf("create a %s with %s = %v, want %d", tt.kind, tt.name, err, tt.wantCode)
			}
		})
	}
}

func selectorOf(t *testing.T, sel *metav1.LabelSelector) string {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return s.String()
}

func ownedBy(m metav1.ObjectMeta, kind, name string) bool {
	owner := metav1.GetControllerOfNoCopy(&m)
	return owner != nil && owner.Kind == kind && owner.Name == name
}

// podHasPort reports whether the Pod has the container port a Service port
// targets, by name or number (the port itself when targetPort is unset).
func podHasPort(p corev1.Pod, sp corev1.ServicePort) bool {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			switch {
			case sp.TargetPort.StrVal != "":
				if cp.Name == sp.TargetPort.StrVal {
					return true
				}
			case sp.TargetPort.IntVal != 0:
				if cp.ContainerPort == sp.TargetPort.IntVal {
					return true
				}
			case cp.ContainerPort == sp.Port:
				return true
			}
		}
	}
	return false
}

func volumeNamed(spec corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// cutDir returns path relative to dir when it is a file directly in dir.
func cutDir(path, dir string) (string, bool) {
	rest, ok := strings.CutPrefix(path, strings.TrimSuffix(dir, "/")+"/")
	return rest, ok && rest != "" && !strings.Contains(rest, "/")
}

// getPath returns the value at path in a decoded object.
func getPath(o map[string]any, path ...string) any {
	var cur any = o
	for _, p := range path {
		cur = cur.(map[string]any)[p]
	}
	return cur
}

// setPath sets the value at path in a decoded object.
func setPath(o map[string]any, value any, path ...string) {
	getPath(o, path[:len(path)-1]...).(map[string]any)[path[len(path)-1]] = value
}
