package local_test

import (
	"testing"
	"time"

	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/runtimetest"
)

// TestConformance runs the runtime's conformance suite on the local
// backend, against a real store, auth, registry and proxy.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	work := e.sharedWork(t)
	const startTimeout = 10 * time.Second
	runtimetest.Run(t, runtimetest.Harness{
		New:          func(t *testing.T) runtime.Backend { return e.backend(t, work, startTimeout) },
		Namespace:    e.namespace(t, "suite-space"),
		Env:          e.platformEnv,
		Settle:       settle,
		StartTimeout: startTimeout,
		ErrorAfter:   5,
	})
}
