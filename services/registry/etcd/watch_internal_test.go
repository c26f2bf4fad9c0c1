package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"m3o.dev/services/registry"
	"m3o.dev/services/registry/etcdembed"
)

// TestWatchAfterCompaction puts a watch that lost its stream behind a
// compaction, so that the revision it would resume from is gone. It must
// say so with a fresh snapshot holding the current state, not skip ahead.
func TestWatchAfterCompaction(t *testing.T) {
	srv, err := etcdembed.Start(etcdembed.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("etcdembed.Start = %v", err)
	}
	t.Cleanup(srv.Close)
	c, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("clientv3.New = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	b, err := New(Options{Client: c})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	ctx := t.Context()
	register := func(name string) {
		t.Helper()
		s := &registry.Service{Name: name, Nodes: []registry.Node{{ID: "n1", Address: "127.0.0.1:1"}}}
		if err := b.Register(ctx, "tenant-a", s, time.Minute); err != nil {
			t.Fatalf("Register(%s) = %v", name, err)
		}
	}
	register("before")

	events := make(chan registry.Event, 16)
	w := &watch{b: b, domain: "tenant-a", prefix: b.domainPrefix("tenant-a"), send: func(ev registry.Event) error {
		events <- ev
		return nil
	}}
	if err := w.snapshot(ctx); err != nil {
		t.Fatalf("snapshot = %v", err)
	}
	expect(t, events, "snapshot[before@()]")
	// While the watch is away, the registry changes and etcd compacts away
	// the history it would have resumed from.
	register("during")
	if err := b.Deregister(ctx, "tenant-a", &registry.Service{Name: "before"}); err != nil {
		t.Fatalf("Deregister = %v", err)
	}
	resp, err := c.Get(ctx, "any")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if _, err := c.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatalf("Compact = %v", err)
	}

	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.run(runCtx); !errors.Is(err, rpctypes.ErrCompacted) || w.idx != nil {
		t.Fatalf("run behind a compaction = %v, index kept %t, want ErrCompacted and the index dropped", err, w.idx != nil)
	}
	done := make(chan error, 1)
	go func() { done <- w.run(runCtx) }()
	expect(t, events, "snapshot[during@()]")
	register("after")
	expect(t, events, "create after@()")
	cancel()
	<-done
}

// expect reads one event and compares its summary.
func expect(t *testing.T, events <-chan registry.Event, want string) {
	t.Helper()
	select {
	case ev := <-events:
		if got := summary(ev); got != want {
			t.Fatalf("event = %s, want %s", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no event, want %s", want)
	}
}

// summary names an event's type and versions.
func summary(ev registry.Event) string {
	if ev.Type != registry.EventSnapshot {
		return fmt.Sprintf("%s %s@%s()", ev.Type, ev.Service.Name, ev.Service.Version)
	}
	var parts []string
	for _, s := range ev.Snapshot {
		parts = append(parts, s.Name+"@"+s.Version+"()")
	}
	return "snapshot[" + strings.Join(parts, " ") + "]"
}
