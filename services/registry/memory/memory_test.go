package memory_test

import (
	"testing"

	"m3o.dev/services/registry"
	"m3o.dev/services/registry/memory"
	"m3o.dev/services/registry/registrytest"
)

func TestConformance(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) registry.Backend {
		b := memory.New(memory.Options{})
		t.Cleanup(func() { b.Close() })
		return b
	})
}
