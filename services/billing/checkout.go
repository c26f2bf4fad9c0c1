package billing

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"m3o.dev/services/internal/storeclient"
)

// PagePath is the subscribe page's path on the proxy's HTTP address, and
// DonePath where a hosted checkout returns after taking the card.
const (
	PagePath = "/subscribe"
	DonePath = "/subscribe/done"
)

// SessionParam is the query parameter that carries the payment session id.
const SessionParam = "session"

// pageURL is the subscribe page of session id.
func (s *Service) pageURL(id string) string { return s.publicURL(PagePath, id) }

func (s *Service) publicURL(path, id string) string {
	u := *s.public
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	if id != "" {
		u.RawQuery = url.Values{SessionParam: {id}}.Encode()
	}
	return u.String()
}

// newSessionID returns an unguessable payment session id: the id is all
// that stands between a browser and the session, so it carries 130 random
// bits.
func newSessionID() string { return "ps_" + strings.ToLower(rand.Text()) }

// startSignupCheckout opens the payment session of a sign-up, or returns
// the one an earlier call with the same key opened. The key reserves the
// session id first, so a retry after a failure at the provider asks the
// provider again with the same id and key, and gets the same objects back.
func (s *Service) startSignupCheckout(ctx context.Context, email, key string) (Checkout, error) {
	id, err := s.state.reserveCheckoutID(ctx, key, newSessionID())
	if err != nil {
		return Checkout{}, err
	}
	c, err := s.state.checkout(ctx, id)
	if !errors.Is(err, ErrNotFound) {
		return c, err
	}
	return s.openCheckout(ctx, Checkout{ID: id, Purpose: PurposeSignup, Email: email}, "checkout-"+key)
}

// openCheckout makes the provider's side of session c and stores it.
func (s *Service) openCheckout(ctx context.Context, c Checkout, key string) (Checkout, error) {
	pc, err := s.provider.StartCheckout(ctx, CheckoutParams{
		SessionID: c.ID, Purpose: c.Purpose, Email: c.Email, Namespace: c.Namespace, Customer: c.Customer,
		PageURL: s.pageURL(c.ID), DoneURL: s.publicURL(DonePath, c.ID), Key: key,
	})
	if err != nil {
		return Checkout{}, err
	}
	now := s.now()
	c.Provider, c.ProviderID, c.ProviderURL, c.Customer = s.provider.Name(), pc.ID, pc.URL, pc.Customer
	c.Created, c.ExpiresAt = now, now.Add(CheckoutTTL)
	c, err = s.state.putCheckout(ctx, c)
	if errors.Is(err, storeclient.ErrAlreadyExists) {
		// A retry running at the same time stored it first.
		return s.state.checkout(ctx, c.ID)
	}
	return c, err
}

// submitCard completes session id with a card typed into the platform's
// own page, and applies it to the subscription the session is for.
func (s *Service) submitCard(ctx context.Context, id, card string) (Checkout, error) {
	c, err := s.state.checkout(ctx, id)
	if err != nil {
		return Checkout{}, err
	}
	if c.Complete {
		return c, nil
	}
	if !c.open(s.now()) {
		return Checkout{}, fmt.Errorf("payment session has expired: %w", ErrNotFound)
	}
	if err := s.provider.TakeCard(ctx, card); err != nil {
		return Checkout{}, err
	}
	if c.Namespace != "" && c.Purpose != PurposeSignup {
		if _, err := s.paid(ctx, c.Namespace, s.now()); err != nil {
			return Checkout{}, err
		}
	}
	return s.completeCheckout(ctx, id, func(c *Checkout) {})
}

// completeCheckout marks session id complete after applying change to it.
func (s *Service) completeCheckout(ctx context.Context, id string, change func(*Checkout)) (Checkout, error) {
	var out Checkout
	err := storeclient.Update(ctx, func() error {
		c, err := s.state.checkout(ctx, id)
		if err != nil {
			return err
		}
		change(&c)
		c.Complete = true
		out, err = s.state.putCheckout(ctx, c)
		return err
	})
	return out, err
}
