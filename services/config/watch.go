package config

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	configv1 "m3o.dev/proto/m3o/config/v1"
)

// hub wakes the watchers of a namespace as soon as this replica commits a
// change to its document. Changes made through other replicas are found by
// polling; the hub only makes local ones immediate.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// subscribe returns a channel that receives a value after each change to ns,
// and a function that unsubscribes it. Wake-ups coalesce: a watcher that is
// busy misses none, it just reads the latest version once.
func (h *hub) subscribe(ns string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[string]map[chan struct{}]struct{}{}
	}
	if h.subs[ns] == nil {
		h.subs[ns] = map[chan struct{}]struct{}{}
	}
	h.subs[ns][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[ns], ch)
		if len(h.subs[ns]) == 0 {
			delete(h.subs, ns)
		}
	}
}

// notify wakes every watcher of ns without blocking.
func (h *hub) notify(ns string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[ns] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// watcher follows the value at one path of one namespace's document.
type watcher struct {
	docs    documents
	ns      string
	path    Path
	version uint64
	// sealed is the watched value as stored, secrets sealed, so that a new
	// secret counts as a change even though it masks the same.
	sealed []byte
}

// watch streams each change under t.path to send until ctx ends or delivery
// fails. Versions that come and go between two looks are coalesced: the
// watcher is sent the value as it is, not every step on the way to it. Any
// failure to read the store ends the watch with an error wrapping
// ErrUnavailable, so that the client knows to watch again rather than wait on
// a stream that went silent.
//
// ready is called once the watcher has its starting point, so that the
// stream's headers can tell the client that no later change will be missed.
func (s *Service) watch(ctx context.Context, t target, ready func() error, send func(*configv1.WatchResponse) error) error {
	wake, unsubscribe := s.hub.subscribe(t.ns)
	defer unsubscribe()
	w := &watcher{docs: s.docs, ns: t.ns, path: t.path}
	if err := w.start(ctx); err != nil {
		return err
	}
	if err := ready(); err != nil {
		return fmt.Errorf("watch %s: send header: %w", t.ns, err)
	}
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-wake:
		}
		resp, err := w.next(ctx)
		if err != nil {
			return err
		}
		if resp == nil {
			continue
		}
		if err := send(resp); err != nil {
			return fmt.Errorf("watch %s: send: %w", t.ns, err)
		}
	}
}

// start records the watched value as it is now: only changes after it are
// reported.
func (w *watcher) start(ctx context.Context) error {
	rev, v, err := w.read(ctx)
	if err != nil {
		return err
	}
	w.version = rev.Version
	w.sealed, err = encodeJSON(v)
	if err != nil {
		return fmt.Errorf("watch %s: %w: %w", w.ns, ErrUnavailable, err)
	}
	return nil
}

// next reads the document and returns the change to report, or nil when the
// watched value is as last seen.
func (w *watcher) next(ctx context.Context) (*configv1.WatchResponse, error) {
	rev, v, err := w.read(ctx)
	if err != nil || rev.Version <= w.version {
		return nil, err
	}
	w.version = rev.Version
	sealed, err := encodeJSON(v)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w: %w", w.ns, ErrUnavailable, err)
	}
	if bytes.Equal(sealed, w.sealed) {
		return nil, nil
	}
	w.sealed = sealed
	masked, err := encodeJSON(mask(v))
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w: %w", w.ns, ErrUnavailable, err)
	}
	return &configv1.WatchResponse{Version: rev.Version, Value: string(masked), Time: timestamppb.New(rev.Time)}, nil
}

// read returns the latest version of the document and the watched value in
// it, nil when there is none. Every failure is an ErrUnavailable: the watch
// cannot go on.
func (w *watcher) read(ctx context.Context) (revision, any, error) {
	rev, err := w.docs.current(ctx, w.ns)
	if err != nil {
		if ctx.Err() != nil {
			return revision{}, nil, ctx.Err()
		}
		return revision{}, nil, fmt.Errorf("watch %s: %w: %w", w.ns, ErrUnavailable, err)
	}
	v, _ := lookup(rev.Data, w.path)
	return rev, v, nil
}
