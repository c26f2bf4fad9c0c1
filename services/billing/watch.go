package billing

import (
	"context"
	"sync"
	"time"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// resyncInterval is how often a watch lists every status again, which
// repairs anything a lost change record or a skewed clock hid from it.
const resyncInterval = 10 * time.Minute

// listingPage is how many subscriptions one listing message carries.
const listingPage = 500

// change is a namespace's billing status as watchers receive it.
type change struct {
	Namespace         string    `json:"namespace"`
	Status            Status    `json:"status"`
	StatusSince       time.Time `json:"status_since"`
	PeriodEnd         time.Time `json:"period_end"`
	CancelAtPeriodEnd bool      `json:"cancel_at_period_end,omitempty"`
	Revision          uint64    `json:"revision"`
}

func changeOf(sub Subscription) change {
	return change{
		Namespace: sub.Namespace, Status: sub.Status, StatusSince: sub.StatusSince,
		PeriodEnd: sub.PeriodEnd, CancelAtPeriodEnd: sub.CancelAtPeriodEnd, Revision: sub.version,
	}
}

// hub hands the changes this replica commits to its watchers at once;
// changes made through other replicas are found by polling the changes
// table. A watcher too busy to take a change misses nothing: the poll finds
// it.
type hub struct {
	mu   sync.Mutex
	subs map[chan change]struct{}
}

// subscribe returns a channel of changes and a function that ends it.
func (h *hub) subscribe() (<-chan change, func()) {
	ch := make(chan change, 64)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[chan change]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, ch)
	}
}

// publish offers c to every watcher without blocking.
func (h *hub) publish(c change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- c:
		default:
		}
	}
}

// statusStream is one WatchStatuses call: what it has sent, so that each
// revision goes out once.
type statusStream struct {
	s    *Service
	send func(*billingv1.WatchStatusesResponse) error
	sent map[string]uint64
}

// watch lists every status, then streams changes until ctx ends or a send
// fails. It subscribes before listing, so no change made meanwhile is lost.
func (s *Service) watch(ctx context.Context, send func(*billingv1.WatchStatusesResponse) error) error {
	local, unsubscribe := s.hub.subscribe()
	defer unsubscribe()
	w := &statusStream{s: s, send: send}
	if err := w.list(ctx); err != nil {
		return err
	}
	poll, resync := time.NewTicker(s.poll), time.NewTicker(resyncInterval)
	defer poll.Stop()
	defer resync.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c := <-local:
			err = w.offer([]change{c})
		case <-poll.C:
			err = w.pollChanges(ctx)
		case <-resync.C:
			err = w.list(ctx)
		}
		if err != nil {
			return err
		}
	}
}

// list sends every subscription's status, page by page, the first page
// marked begin and the last current.
func (w *statusStream) list(ctx context.Context) error {
	w.sent = map[string]uint64{}
	token, first := "", true
	for {
		subs, next, err := w.s.state.subscriptions(ctx, listingPage, token)
		if err != nil {
			return err
		}
		msg := &billingv1.WatchStatusesResponse{Begin: first, Current: next == ""}
		for _, sub := range subs {
			msg.Statuses = append(msg.Statuses, namespaceStatus(changeOf(sub)))
			w.sent[sub.Namespace] = sub.version
		}
		if err := w.send(msg); err != nil {
			return err
		}
		if token, first = next, false; token == "" {
			return nil
		}
	}
}

// pollChanges sends what the changes table holds that is newer than what
// was sent: the current bucket and the one before cover every change since
// the last poll.
func (w *statusStream) pollChanges(ctx context.Context) error {
	now := w.s.now()
	var all []change
	for _, at := range []time.Time{now.Add(-changeBucket), now} {
		cs, err := w.s.state.changes(ctx, at)
		if err != nil {
			return err
		}
		all = append(all, cs...)
	}
	return w.offer(all)
}

// offer sends the changes newer than what was sent for their namespace.
func (w *statusStream) offer(cs []change) error {
	msg := &billingv1.WatchStatusesResponse{Current: true}
	for _, c := range cs {
		if c.Revision <= w.sent[c.Namespace] {
			continue
		}
		w.sent[c.Namespace] = c.Revision
		msg.Statuses = append(msg.Statuses, namespaceStatus(c))
	}
	if len(msg.Statuses) == 0 {
		return nil
	}
	return w.send(msg)
}
