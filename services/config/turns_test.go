package config

import (
	"context"
	"errors"
	"testing"
)

// TestTurns checks that a change waits for the one before it in its
// namespace and no other, that a change whose context ends stops waiting,
// and that nothing is kept once every change is done.
func TestTurns(t *testing.T) {
	var q turns
	done, err := q.take(t.Context(), "ns-a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := q.take(t.Context(), "ns-b")
	if err != nil {
		t.Fatalf("take(ns-b) while ns-a is held = %v", err)
	}
	other()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := q.take(ctx, "ns-a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("take(ns-a) while held, context canceled = %v, want context.Canceled", err)
	}
	next := make(chan func())
	go func() {
		d, _ := q.take(t.Context(), "ns-a")
		next <- d
	}()
	done()
	(<-next)()

	if len(q.queue) != 0 {
		t.Errorf("turns kept %d namespaces after every change was done", len(q.queue))
	}
}
