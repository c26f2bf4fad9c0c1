// Package local is the payment provider of `micro server`: it takes test
// card numbers on the platform's own subscribe page and bills nothing.
// Nothing leaves the machine: customers and subscriptions are ids it makes
// up from the keys it is given, and it sends no webhooks.
//
// The card 4242424242424242 is accepted and 4000000000000002 declined, as
// in Stripe's test mode; any other number is invalid.
package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"m3o.dev/services/billing"
	"m3o.dev/services/internal/invalid"
)

// Test card numbers.
const (
	// CardAccepted is always accepted.
	CardAccepted = "4242424242424242"
	// CardDeclined is always declined.
	CardDeclined = "4000000000000002"
)

// Name is the provider's name.
const Name = "local"

// Provider is the local payment provider. Its zero value is not usable;
// call New.
type Provider struct {
	now func() time.Time
}

var _ billing.Provider = (*Provider)(nil)

// New returns the local provider.
func New() *Provider { return &Provider{now: time.Now} }

// Name implements billing.Provider.
func (p *Provider) Name() string { return Name }

// StartCheckout implements billing.Provider: the platform's own page takes
// the card, so there is no hosted checkout, only a customer id.
func (p *Provider) StartCheckout(_ context.Context, cp billing.CheckoutParams) (billing.ProviderCheckout, error) {
	customer := cp.Customer
	if customer == "" {
		customer = id("cus_local_", cp.Key)
	}
	return billing.ProviderCheckout{Customer: customer}, nil
}

// TakeCard implements billing.Provider.
func (p *Provider) TakeCard(_ context.Context, card string) error {
	switch card {
	case CardAccepted:
		return nil
	case CardDeclined:
		return billing.ErrDeclined
	}
	return invalid.Field("card", "is not a test card: the local provider accepts %s and declines %s", CardAccepted, CardDeclined)
}

// Subscribe implements billing.Provider: the subscription is active for a
// month from now, and the same key names the same subscription.
func (p *Provider) Subscribe(_ context.Context, sp billing.SubscribeParams) (billing.ProviderSubscription, error) {
	return billing.ProviderSubscription{
		ID: id("sub_local_", sp.Key), Status: billing.StatusActive, PeriodEnd: p.now().AddDate(0, 1, 0),
	}, nil
}

// Cancel implements billing.Provider; there is nothing to tell.
func (p *Provider) Cancel(context.Context, billing.Subscription) error { return nil }

// Resume implements billing.Provider; there is nothing to tell.
func (p *Provider) Resume(context.Context, billing.Subscription) error { return nil }

// Portal implements billing.Provider: the platform's own page changes the
// card.
func (p *Provider) Portal(context.Context, billing.Subscription, string) (string, error) {
	return "", nil
}

// ParseEvent implements billing.Provider: the local provider sends no
// webhooks, so none is genuine.
func (p *Provider) ParseEvent([]byte, string) (billing.Event, error) {
	return billing.Event{}, fmt.Errorf("the local provider sends no webhooks: %w", billing.ErrUnsupported)
}

// id derives a provider id from an idempotency key, so that the same key
// always names the same object.
func id(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:12])
}
