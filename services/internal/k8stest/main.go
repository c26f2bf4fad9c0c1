package k8stest

import (
	"context"
	"os"
	"sync"
	"testing"
)

// shared is the control plane of a test binary, started by the first test
// that asks for it and stopped by Main.
var shared struct {
	mainRan bool
	once    sync.Once
	cluster *Cluster
	err     error
}

// Main runs a package's tests and then stops the control plane Shared
// started, if any. Call it from TestMain:
//
//	func TestMain(m *testing.M) { k8stest.Main(m) }
//
// If the test binary panics or is killed, the children die with it
// (Pdeathsig) and only the temporary directory is left behind.
func Main(m *testing.M) {
	shared.mainRan = true
	code := m.Run()
	if shared.cluster != nil {
		shared.cluster.Stop()
	}
	os.Exit(code)
}

// Shared returns the test binary's control plane, starting it on first
// use; tests that share it keep to namespaces of their own. It fails the
// test when the control plane cannot start, and skips it only under
// -short.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if !shared.mainRan {
		t.Fatal("k8stest.Shared needs k8stest.Main as the package's TestMain, which stops the control plane")
	}
	if testing.Short() {
		t.Skip("-short: skipping a test that needs a Kubernetes control plane")
	}
	shared.once.Do(func() {
		shared.cluster, shared.err = Start(context.Background(), "")
	})
	if shared.err != nil {
		t.Fatalf("start the Kubernetes control plane: %v", shared.err)
	}
	return shared.cluster
}
