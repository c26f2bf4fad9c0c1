package billing

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/backoff"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// Standings is a cache of every billed namespace's status that billing's
// WatchStatuses keeps current, for the services that act on payment (the
// proxy's gate, the runtime's stopping of unpaid services) without a call
// to billing per decision. Namespaces billing does not list are not billed
// and always in good standing. Until the first listing arrives, and while
// billing is unreachable, it answers from what it last knew: a billing
// outage does not stop the platform.
type Standings struct {
	grace time.Duration
	log   *slog.Logger
	now   func() time.Time

	mu       sync.RWMutex
	statuses map[string]*billingv1.NamespaceStatus
	pending  map[string]*billingv1.NamespaceStatus
	onChange func()
}

// NewStandings returns an empty cache in which past-due namespaces keep
// working for grace.
func NewStandings(grace time.Duration, logger *slog.Logger) *Standings {
	return &Standings{
		grace: grace, log: logger, now: time.Now,
		statuses: map[string]*billingv1.NamespaceStatus{},
	}
}

// OnChange sets f to be called, outside any lock, after each message of
// the watch that changed a status. Set it before Run.
func (s *Standings) OnChange(f func()) { s.onChange = f }

// Grace is how long a past-due namespace keeps working.
func (s *Standings) Grace() time.Duration { return s.grace }

// watchBackoff spaces out reconnections to billing.
var watchBackoff = backoff.Policy{Min: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.5}

// Run follows billing's statuses until ctx ends, watching again after each
// failure.
func (s *Standings) Run(ctx context.Context, client billingv1.BillingServiceClient) {
	b := watchBackoff.Start()
	for ctx.Err() == nil {
		err := s.follow(ctx, client)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("payment statuses: watch ended; watching again", "error", err)
		if b.Wait(ctx) != nil {
			return
		}
	}
}

// follow applies one watch's messages until it ends.
func (s *Standings) follow(ctx context.Context, client billingv1.BillingServiceClient) error {
	stream, err := client.WatchStatuses(ctx, &billingv1.WatchStatusesRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		s.Apply(msg)
	}
}

// Apply takes one message of a status watch: a listing is built aside and
// replaces the cache once complete, so a decision never meets half of one.
func (s *Standings) Apply(msg *billingv1.WatchStatusesResponse) {
	if s.apply(msg) && s.onChange != nil {
		s.onChange()
	}
}

// apply updates the cache and reports whether the statuses decisions are
// made from changed.
func (s *Standings) apply(msg *billingv1.WatchStatusesResponse) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg.GetBegin() {
		s.pending = map[string]*billingv1.NamespaceStatus{}
	}
	target := s.pending
	if target == nil {
		target = s.statuses
	}
	for _, st := range msg.GetStatuses() {
		if old, ok := target[st.GetNamespace()]; !ok || st.GetRevision() >= old.GetRevision() {
			target[st.GetNamespace()] = st
		}
	}
	if msg.GetCurrent() && s.pending != nil {
		s.statuses, s.pending = s.pending, nil
		return true
	}
	return s.pending == nil && len(msg.GetStatuses()) > 0
}

// Standing returns where namespace ns stands now, and its status, nil when
// it is not billed.
func (s *Standings) Standing(ns string) (Standing, *billingv1.NamespaceStatus) {
	s.mu.RLock()
	st := s.statuses[ns]
	s.mu.RUnlock()
	return StandingOf(st, s.now(), s.grace), st
}
