package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// handleWebhook verifies a provider event and applies it once. The event
// is applied before its id is remembered: applying is idempotent (the
// newest created time wins), so a failure between the two steps costs a
// harmless second application on the provider's retry, never a lost event.
// It reports whether the event changed anything.
func (s *Service) handleWebhook(ctx context.Context, payload []byte, signature string) (bool, error) {
	ev, err := s.provider.ParseEvent(payload, signature)
	if err != nil {
		return false, err
	}
	log := s.log.With("event", ev.ID, "type", ev.Type)
	seen, err := s.state.seenEvent(ctx, ev.ID)
	if err != nil || seen {
		log.DebugContext(ctx, "webhook replayed")
		return false, err
	}
	applied, err := s.apply(ctx, ev, log)
	if err != nil {
		return false, err
	}
	return applied, s.state.rememberEvent(ctx, ev.ID, ev.Created)
}

// apply changes the state an event is about.
func (s *Service) apply(ctx context.Context, ev Event, log *slog.Logger) (bool, error) {
	switch ev.Kind {
	case EventCheckoutCompleted:
		return s.applyCheckout(ctx, ev, log)
	case EventSubscriptionChanged:
		return s.applySubscription(ctx, ev, log)
	}
	log.DebugContext(ctx, "webhook ignored")
	return false, nil
}

// applyCheckout completes a hosted checkout: a sign-up's card is in place,
// or a namespace subscribed anew.
func (s *Service) applyCheckout(ctx context.Context, ev Event, log *slog.Logger) (bool, error) {
	e := ev.Checkout
	c, err := s.state.checkout(ctx, e.SessionID)
	if errors.Is(err, ErrNotFound) {
		log.WarnContext(ctx, "webhook for an unknown payment session", "session", e.SessionID)
		return false, nil
	}
	if err != nil || c.Complete {
		return false, err
	}
	if c.Purpose == PurposeResubscribe {
		if err := s.resubscribed(ctx, c.Namespace, e.Subscription, ev); err != nil {
			return false, err
		}
	}
	_, err = s.completeCheckout(ctx, c.ID, func(c *Checkout) {
		c.SetupIntent = e.SetupIntent
		if e.Customer != "" {
			c.Customer = e.Customer
		}
	})
	log.InfoContext(ctx, "payment session complete", "purpose", c.Purpose, "namespace", c.Namespace)
	return err == nil, err
}

// resubscribed points the namespace at the provider's new subscription and
// makes it active as of the event.
func (s *Service) resubscribed(ctx context.Context, ns, providerID string, ev Event) error {
	_, err := s.update(ctx, ns, func(sub *Subscription) error {
		if ev.Created.Before(sub.ChangedAt) {
			return errUnchanged
		}
		sub.ProviderID = providerID
		sub.setStatus(StatusActive, ev.Created)
		sub.CancelAtPeriodEnd = false
		sub.ChangedAt = ev.Created
		return nil
	})
	return err
}

// applySubscription takes the state a subscription event carries, unless
// the subscription has seen a newer event: for each subscription the event
// with the newest created time wins, whatever the order of arrival. Events
// of the same second (the provider's resolution) apply in arrival order.
func (s *Service) applySubscription(ctx context.Context, ev Event, log *slog.Logger) (bool, error) {
	e := ev.Subscription
	if e.Namespace == "" {
		log.WarnContext(ctx, "subscription event names no namespace", "subscription", e.ProviderID)
		return false, nil
	}
	applied := false
	_, err := s.update(ctx, e.Namespace, func(sub *Subscription) error {
		if sub.ProviderID != e.ProviderID || ev.Created.Before(sub.ChangedAt) {
			return errUnchanged
		}
		sub.setStatus(e.Status, ev.Created)
		sub.PeriodEnd, sub.CancelAtPeriodEnd, sub.ChangedAt = e.PeriodEnd, e.CancelAtPeriodEnd, ev.Created
		applied = true
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		log.WarnContext(ctx, "subscription event for a namespace without a subscription", "namespace", e.Namespace)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("apply %s: %w", ev.Type, err)
	}
	log.InfoContext(ctx, "subscription event", "namespace", e.Namespace, "status", e.Status, "applied", applied)
	return applied, nil
}
