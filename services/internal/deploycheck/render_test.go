package deploycheck

import (
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// overlays are the kustomizations a cluster is deployed from.
var overlays = []string{"production", "trial"}

// render builds the kustomization in dir as kubectl apply -k would.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range m.Resources() {
		// Through JSON, so that numbers are int64 as the client libraries
		// expect, not the ints of kustomize's own maps.
		data, err := r.MarshalJSON()
		u := &unstructured.Unstructured{}
		if err == nil {
			err = u.UnmarshalJSON(data)
		}
		if err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		objs = append(objs, u)
	}
	return objs
}

// renderOverlay builds deploy/kubernetes/<name>.
func renderOverlay(t *testing.T, name string) []*unstructured.Unstructured {
	t.Helper()
	return render(t, filepath.Join(repoRoot, "deploy", "kubernetes", name))
}

// workload is a rendered object that makes pods, with its pod template.
type workload struct {
	kind, name string
	replicas   int32
	template   corev1.PodTemplateSpec
}

// workloads decodes the Deployments, StatefulSets and Jobs among objs.
func workloads(t *testing.T, objs []*unstructured.Unstructured) []workload {
	t.Helper()
	var ws []workload
	for _, u := range objs {
		w := workload{kind: u.GetKind(), name: u.GetName(), replicas: 1}
		switch u.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			decode(t, u, &d)
			w.template, w.replicas = d.Spec.Template, deref(d.Spec.Replicas)
		case "StatefulSet":
			var s appsv1.StatefulSet
			decode(t, u, &s)
			w.template, w.replicas = s.Spec.Template, deref(s.Spec.Replicas)
		case "Job":
			var j batchv1.Job
			decode(t, u, &j)
			w.template = j.Spec.Template
		default:
			continue
		}
		ws = append(ws, w)
	}
	return ws
}

// find returns the rendered object of kind and name.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("no %s %s among the rendered objects", kind, name)
	return nil
}

// decode converts a rendered object into its typed form, refusing fields
// the type does not have.
func decode(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

func deref(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}
