package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"m3o.dev/services/registry"
)

// Backoff between attempts to reach etcd again during a watch.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
)

// Watch implements registry.Backend.
//
// It reads a snapshot, then watches from the revision after it. The etcd
// client resumes a broken stream from the last revision it delivered, and
// when the stream ends anyway this loop resumes from there itself. Only when
// etcd no longer holds that revision (it was compacted) is a new snapshot
// read and sent, because the changes in between are gone.
func (b *Backend) Watch(ctx context.Context, domain, name string, send func(registry.Event) error) error {
	prefix := b.domainPrefix(domain)
	if name != "" {
		prefix = b.servicePrefix(domain, name)
	}
	w := &watch{b: b, domain: domain, name: name, prefix: prefix, send: send}
	retry := minRetry
	for {
		from := w.next
		err := w.run(ctx)
		if w.next != from {
			// The watch made progress before it broke: this is a new
			// outage, not the same one going on.
			retry = minRetry
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var sendErr *sendError
		if errors.As(err, &sendErr) {
			return sendErr.err
		}
		b.log.Warn("registry watch interrupted", "domain", domain, "service", name, "retry_in", retry, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
		retry = min(2*retry, maxRetry)
	}
}

// sendError marks a failure of the caller's send, which ends the watch.
type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }

// watch is the state of one Watch call.
type watch struct {
	b            *Backend
	domain, name string
	prefix       string
	send         func(registry.Event) error

	// idx mirrors the watched keys; nil until the first snapshot, and again
	// after a gap that only a snapshot can close.
	idx *registry.Index
	// next is the first revision not yet applied to idx.
	next int64
}

// run brings the watcher up to date, with a snapshot when it has none or
// lost its place, then follows changes until the stream ends.
func (w *watch) run(ctx context.Context) error {
	if w.idx == nil {
		if err := w.snapshot(ctx); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := w.b.client.Watch(ctx, w.prefix, clientv3.WithPrefix(), clientv3.WithRev(w.next))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				w.b.log.Info("registry watch resynchronising after compaction", "domain", w.domain, "service", w.name, "revision", w.next, "compact_revision", resp.CompactRevision)
				w.idx = nil
			}
			return fmt.Errorf("watch %s from revision %d: %w", w.prefix, w.next, err)
		}
		if err := w.apply(resp.Events); err != nil {
			return err
		}
		if resp.Header.Revision >= w.next {
			w.next = resp.Header.Revision + 1
		}
	}
	return fmt.Errorf("watch %s from revision %d: stream closed", w.prefix, w.next)
}

// snapshot reads the watched keys and sends them as one snapshot event.
func (w *watch) snapshot(ctx context.Context) error {
	idx, rev, err := w.b.load(ctx, w.prefix)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", w.prefix, err)
	}
	w.idx, w.next = idx, rev+1
	ev := registry.Event{Type: registry.EventSnapshot, Snapshot: idx.Services(w.name), Time: time.Now()}
	if err := w.send(ev); err != nil {
		return &sendError{err}
	}
	return nil
}

// apply replays etcd's key events into the index and sends the version
// events they cause.
func (w *watch) apply(events []*clientv3.Event) error {
	for _, e := range events {
		ev, ok, err := w.change(e)
		if err != nil {
			w.b.log.Error("skip unreadable node event", "key", string(e.Kv.Key), "error", err)
			continue
		}
		if e.Kv.ModRevision >= w.next {
			w.next = e.Kv.ModRevision + 1
		}
		if !ok {
			continue
		}
		ev.Time = time.Now()
		if err := w.send(ev); err != nil {
			return &sendError{err}
		}
	}
	return nil
}

// change applies one key event to the index.
func (w *watch) change(e *clientv3.Event) (registry.Event, bool, error) {
	if e.Type == mvccpb.DELETE {
		name, version, id, err := w.b.parseKey(w.domain, string(e.Kv.Key))
		if err != nil {
			return registry.Event{}, false, err
		}
		ev, ok := w.idx.Delete(name, version, id)
		return ev, ok, nil
	}
	r, err := decode(e.Kv.Value)
	if err != nil {
		return registry.Event{}, false, err
	}
	ev, ok := w.idx.Put(&r.Service, r.Node)
	return ev, ok, nil
}
