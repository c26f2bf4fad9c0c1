package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/internal/storeclient"
)

// createSubscription subscribes a namespace with the card of a completed
// sign-up session. It is idempotent by key at every step: the namespace's
// record names the key it was made with, the session is claimed for the
// namespace before the provider is asked, and the provider gets a key
// derived from it, so a retry after any failure ends with one subscription.
func (s *Service) createSubscription(ctx context.Context, req *billingv1.CreateSubscriptionRequest) (Subscription, error) {
	ns, key := req.GetNamespace(), req.GetIdempotencyKey()
	if sub, err := s.state.subscription(ctx, ns); !errors.Is(err, ErrNotFound) {
		return sameKey(sub, key, err)
	}
	c, err := s.claimCheckout(ctx, req.GetPaymentSessionId(), ns)
	if err != nil {
		return Subscription{}, err
	}
	ps, err := s.provider.Subscribe(ctx, SubscribeParams{
		Namespace: ns, Account: req.GetAccount(), Customer: c.Customer, SetupIntent: c.SetupIntent, Key: "subscription-" + key,
	})
	if err != nil {
		return Subscription{}, err
	}
	// ChangedAt stays zero, so that every event about the provider's new
	// subscription applies, even one created in this very second: the
	// provider's events, not this answer, order its later states.
	now := s.now()
	sub := Subscription{
		Namespace: ns, Account: req.GetAccount(), Email: req.GetEmail(), Status: ps.Status, StatusSince: now,
		PeriodEnd: ps.PeriodEnd, Provider: s.provider.Name(), ProviderID: ps.ID, Customer: c.Customer,
		Key: key, Created: now,
	}
	sub, err = s.commit(ctx, sub)
	if errors.Is(err, storeclient.ErrAlreadyExists) {
		sub, err = s.state.subscription(ctx, ns)
		return sameKey(sub, key, err)
	}
	return sub, err
}

// sameKey returns sub when it was made with key, and ErrAlreadyExists when
// another sign-up made it.
func sameKey(sub Subscription, key string, err error) (Subscription, error) {
	if err != nil {
		return Subscription{}, err
	}
	if sub.Key != key {
		return Subscription{}, fmt.Errorf("namespace %q already has a subscription: %w", sub.Namespace, ErrAlreadyExists)
	}
	return sub, nil
}

// claimCheckout returns the completed sign-up session id, after recording
// that it pays for ns; a session already used for another namespace is
// refused.
func (s *Service) claimCheckout(ctx context.Context, id, ns string) (Checkout, error) {
	var out Checkout
	err := storeclient.Update(ctx, func() error {
		c, err := s.state.checkout(ctx, id)
		switch {
		case err != nil:
			return err
		case c.Purpose != PurposeSignup || !c.Complete:
			return fmt.Errorf("payment session has no payment method in place: %w", ErrNotReady)
		case c.Namespace == ns:
			out = c
			return nil
		case c.Namespace != "":
			return fmt.Errorf("payment session pays for another namespace: %w", ErrNotReady)
		}
		c.Namespace = ns
		out, err = s.state.putCheckout(ctx, c)
		return err
	})
	return out, err
}

// cancel ends the subscription of ns at the end of its paid period.
func (s *Service) cancel(ctx context.Context, ns string) (Subscription, error) {
	sub, err := s.billedSubscription(ctx, ns)
	if err != nil || sub.CancelAtPeriodEnd || sub.Status == StatusCanceled {
		return sub, err
	}
	if err := s.provider.Cancel(ctx, sub); err != nil {
		return Subscription{}, err
	}
	return s.setCancelAtPeriodEnd(ctx, ns, true)
}

// resume takes back the cancel of ns while its paid period lasts. A
// subscription that is not set to end is left as it is; one that has ended
// is refused, since only a new subscription brings it back.
func (s *Service) resume(ctx context.Context, ns string) (Subscription, error) {
	sub, err := s.billedSubscription(ctx, ns)
	switch {
	case err != nil:
		return Subscription{}, err
	case s.ended(sub):
		return Subscription{}, fmt.Errorf("subscription of namespace %q ended on %s, so only a new one brings it back: %w",
			ns, sub.PeriodEnd.UTC().Format(time.DateOnly), ErrEnded)
	case !sub.CancelAtPeriodEnd:
		return sub, nil
	}
	if err := s.provider.Resume(ctx, sub); err != nil {
		return Subscription{}, err
	}
	return s.setCancelAtPeriodEnd(ctx, ns, false)
}

// billedSubscription returns the subscription of ns, refusing one an admin
// set by hand (see byProvider).
func (s *Service) billedSubscription(ctx context.Context, ns string) (Subscription, error) {
	sub, err := s.state.subscription(ctx, ns)
	if err != nil {
		return Subscription{}, err
	}
	return sub, byProvider(sub)
}

// setCancelAtPeriodEnd records whether the subscription of ns ends with
// its paid period.
func (s *Service) setCancelAtPeriodEnd(ctx context.Context, ns string, cancel bool) (Subscription, error) {
	return s.update(ctx, ns, func(sub *Subscription) error {
		sub.CancelAtPeriodEnd = cancel
		return nil
	})
}

// byProvider refuses a subscription an admin set by hand: no provider
// bills it, it has no paid period to end or renew, and only the platform's
// admins change it.
func byProvider(sub Subscription) error {
	if sub.Provider != ProviderManual {
		return nil
	}
	return fmt.Errorf("subscription of namespace %q was set by hand by the platform's admins, and only they change it: %w",
		sub.Namespace, ErrSetByHand)
}

// ended reports whether sub is over: canceled, or set to end and past the
// end of its paid period.
func (s *Service) ended(sub Subscription) bool {
	return sub.Status == StatusCanceled || (sub.CancelAtPeriodEnd && !s.now().Before(sub.PeriodEnd))
}

// portal returns the page where the card of ns changes: the provider's
// portal, or the platform's own page for the local provider and for a
// manual subscription; once the subscription has ended, a page that
// starts a new one.
func (s *Service) portal(ctx context.Context, ns, returnURL string) (string, error) {
	sub, err := s.state.subscription(ctx, ns)
	if err != nil {
		return "", err
	}
	purpose := PurposeUpdateCard
	if s.ended(sub) {
		purpose = PurposeResubscribe
	}
	if returnURL == "" {
		returnURL = s.publicURL(DonePath, "")
	}
	if purpose == PurposeUpdateCard && sub.Provider == s.provider.Name() {
		u, err := s.provider.Portal(ctx, sub, returnURL)
		if err != nil || u != "" {
			return u, err
		}
	}
	c := Checkout{ID: newSessionID(), Purpose: purpose, Namespace: ns, Email: sub.Email, Customer: sub.Customer}
	c, err = s.openCheckout(ctx, c, "checkout-"+c.ID)
	if err != nil {
		return "", err
	}
	return s.pageURL(c.ID), nil
}

// setStatus sets the status of ns by hand. A namespace without a
// subscription gets a manual one. Canceled by hand ends the paid period
// now; setting active clears a pending cancel and gives a period that is
// over a new one (see reopenPeriod).
func (s *Service) setStatus(ctx context.Context, ns string, st Status) (Subscription, error) {
	now := s.now()
	return s.upsert(ctx, ns, func(sub *Subscription) error {
		sub.setStatus(st, now)
		sub.ChangedAt = now
		switch st {
		case StatusCanceled:
			sub.PeriodEnd = earliest(sub.PeriodEnd, now)
		case StatusActive:
			sub.CancelAtPeriodEnd = false
			sub.reopenPeriod(now)
		}
		return nil
	})
}

// reopenPeriod gives an active subscription whose paid period is over a
// period that lasts: a month from now, as a payment starts one, or none at
// all for a manual one, which has no paid period. Active with its period
// over would end, gated, the moment its tenant cancels.
func (sub *Subscription) reopenPeriod(now time.Time) {
	switch {
	case sub.Provider == ProviderManual:
		sub.PeriodEnd = time.Time{}
	case !sub.PeriodEnd.IsZero() && !now.Before(sub.PeriodEnd):
		sub.PeriodEnd = now.AddDate(0, 1, 0)
	}
}

// paid records that ns paid at at: the card was replaced, or a new
// subscription started after a cancel. An ended period starts anew.
func (s *Service) paid(ctx context.Context, ns string, at time.Time) (Subscription, error) {
	return s.update(ctx, ns, func(sub *Subscription) error {
		if sub.Status == StatusCanceled || sub.CancelAtPeriodEnd || !at.Before(sub.PeriodEnd) {
			sub.PeriodEnd = at.AddDate(0, 1, 0)
		}
		sub.setStatus(StatusActive, at)
		sub.CancelAtPeriodEnd = false
		sub.ChangedAt = laterOf(sub.ChangedAt, at)
		return nil
	})
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// errUnchanged makes update leave a subscription as it is.
var errUnchanged = errors.New("unchanged")

// update applies change to the subscription of ns with compare-and-set,
// retrying on conflict, and publishes the result. When change returns
// errUnchanged nothing is written and the subscription comes back as read.
func (s *Service) update(ctx context.Context, ns string, change func(*Subscription) error) (Subscription, error) {
	var out Subscription
	err := storeclient.Update(ctx, func() error {
		sub, err := s.state.subscription(ctx, ns)
		if err != nil {
			return err
		}
		if err := change(&sub); err != nil {
			out = sub
			return err
		}
		out, err = s.commit(ctx, sub)
		return err
	})
	if errors.Is(err, errUnchanged) {
		return out, nil
	}
	return out, err
}

// upsert is update for a namespace that may have no subscription yet: it
// starts from a manual one.
func (s *Service) upsert(ctx context.Context, ns string, change func(*Subscription) error) (Subscription, error) {
	var out Subscription
	err := storeclient.Update(ctx, func() error {
		sub, err := s.state.subscription(ctx, ns)
		if errors.Is(err, ErrNotFound) {
			sub, err = Subscription{Namespace: ns, Provider: ProviderManual, Created: s.now()}, nil
		}
		if err != nil {
			return err
		}
		if err := change(&sub); err != nil {
			return err
		}
		out, err = s.commit(ctx, sub)
		return err
	})
	return out, err
}

// commit writes sub over the version it was read at and tells watchers,
// here at once and on other replicas through the changes table.
func (s *Service) commit(ctx context.Context, sub Subscription) (Subscription, error) {
	sub, err := s.state.putSubscription(ctx, sub)
	if err != nil {
		return Subscription{}, err
	}
	s.hub.publish(changeOf(sub))
	if err := s.state.recordChange(ctx, sub, s.now()); err != nil {
		// The subscription is written; watchers elsewhere see it at their
		// next full listing.
		s.log.WarnContext(ctx, "status change not recorded for other replicas", "namespace", sub.Namespace, "error", err)
	}
	return sub, nil
}
