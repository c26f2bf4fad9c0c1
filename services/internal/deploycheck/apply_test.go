package deploycheck

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"m3o.dev/services/internal/k8stest"
)

func TestMain(m *testing.M) { k8stest.Main(m) }

// applier creates rendered objects on a real API server, as kubectl
// apply does, with strict field validation, and collects the warnings the
// server sends back (pod security's among them).
type applier struct {
	client   kubernetes.Interface
	dynamic  dynamic.Interface
	mapper   meta.RESTMapper
	warnings *warnings
}

// warnings collects the API server's warning headers.
type warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

func newApplier(t *testing.T, c *k8stest.Cluster) *applier {
	t.Helper()
	cfg := rest.CopyConfig(c.Config)
	w := &warnings{}
	cfg.WarningHandler = w
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{
		client:   kubernetes.NewForConfigOrDie(cfg),
		dynamic:  dynamic.NewForConfigOrDie(cfg),
		mapper:   restmapper.NewDiscoveryRESTMapper(groups),
		warnings: w,
	}
}

// create creates one object and returns the server's answer.
func (a *applier) create(t *testing.T, u *unstructured.Unstructured) error {
	t.Helper()
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s: %w", gvk, err)
	}
	var ri dynamic.ResourceInterface = a.dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = a.dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	_, err = ri.Create(t.Context(), u, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
	return err
}

// applyAll creates objs, Namespaces first, failing the test for every
// object the server refuses and every warning it gives.
func (a *applier) applyAll(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, namespaces := range []bool{true, false} {
		for _, u := range objs {
			if (u.GetKind() == "Namespace") != namespaces {
				continue
			}
			if err := a.create(t, u); err != nil {
				t.Errorf("create %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
		}
	}
	for _, w := range a.warnings.take() {
		t.Errorf("API server warning: %s", w)
	}
}

// inNamespace moves objs into namespace ns, renaming the Namespace object,
// so that several overlays can share one cluster.
func inNamespace(objs []*unstructured.Unstructured, ns string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		u = u.DeepCopy()
		switch {
		case u.GetKind() == "Namespace":
			u.SetName(ns)
		case u.GetNamespace() != "":
			u.SetNamespace(ns)
		}
		out = append(out, u)
	}
	return out
}

// eventually polls check until it succeeds, for at most two minutes: the
// controllers work on their own time.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %v", what, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// secretLiteral is a Secret the operator creates by hand (deploy/README.md).
func secretLiteral(ns, name string, keyValues ...string) *unstructured.Unstructured {
	data := map[string]any{}
	for i := 0; i+1 < len(keyValues); i += 2 {
		data[keyValues[i]] = keyValues[i+1]
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"stringData": data,
	}}
}

// nameOf is "Kind/name", for messages.
func nameOf(u *unstructured.Unstructured) string {
	return strings.Join([]string{u.GetKind(), u.GetName()}, "/")
}
