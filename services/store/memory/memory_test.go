package memory_test

import (
	"testing"
	"time"

	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Backend {
		b := memory.New(now)
		t.Cleanup(func() { b.Close() })
		return b
	})
}
