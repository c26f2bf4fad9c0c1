package billing

import (
	"time"
)

// Subscription is a namespace's subscription as the store keeps it.
type Subscription struct {
	// Namespace it pays for; the record's key.
	Namespace string `json:"namespace"`
	// Account that signed up; empty for a manual subscription.
	Account string `json:"account,omitempty"`
	// Email of the account holder.
	Email string `json:"email,omitempty"`
	// Status as last reported or set.
	Status Status `json:"status"`
	// StatusSince is when it entered Status.
	StatusSince time.Time `json:"status_since"`
	// PeriodEnd is when the paid period ends.
	PeriodEnd time.Time `json:"period_end"`
	// CancelAtPeriodEnd is true once a cancel was asked for.
	CancelAtPeriodEnd bool `json:"cancel_at_period_end,omitempty"`
	// Provider bills it: a Provider's Name, or ProviderManual.
	Provider string `json:"provider"`
	// ProviderID is the provider's id of the subscription.
	ProviderID string `json:"provider_id,omitempty"`
	// Customer is the provider's id of the customer.
	Customer string `json:"customer,omitempty"`
	// Key is the idempotency key CreateSubscription made it with.
	Key string `json:"key,omitempty"`
	// Created is when it was made.
	Created time.Time `json:"created"`
	// ChangedAt is the created time of the last event applied, or when an
	// admin last set it: an event older than this changes nothing.
	ChangedAt time.Time `json:"changed_at"`
	// version is the store's version of the record, for compare-and-set
	// and as the revision watchers compare.
	version uint64
}

// setStatus moves the subscription to st as of at, keeping the time it
// entered st when it was there already.
func (s *Subscription) setStatus(st Status, at time.Time) {
	if s.Status != st || s.StatusSince.IsZero() {
		s.StatusSince = at
	}
	s.Status = st
}

// Checkout is a payment session as the store keeps it.
type Checkout struct {
	// ID is the opaque session id in the subscribe page's URL.
	ID string `json:"id"`
	// Purpose is what it is for.
	Purpose Purpose `json:"purpose"`
	// Complete is true once a payment method is in place.
	Complete bool `json:"complete,omitempty"`
	// Namespace is the one it pays for: for a sign-up, set by the
	// CreateSubscription that used it.
	Namespace string `json:"namespace,omitempty"`
	// Email is the payer's.
	Email string `json:"email,omitempty"`
	// Provider takes the card.
	Provider string `json:"provider"`
	// ProviderID and ProviderURL are the provider's hosted checkout.
	ProviderID  string `json:"provider_id,omitempty"`
	ProviderURL string `json:"provider_url,omitempty"`
	// Customer is the provider's customer.
	Customer string `json:"customer,omitempty"`
	// SetupIntent records the card a hosted sign-up checkout took.
	SetupIntent string `json:"setup_intent,omitempty"`
	// Created and ExpiresAt bound the session's life.
	Created   time.Time `json:"created"`
	ExpiresAt time.Time `json:"expires_at"`
	// version is the store's version of the record.
	version uint64
}

// open reports whether the session still takes a card at now.
func (c *Checkout) open(now time.Time) bool {
	return !c.Complete && now.Before(c.ExpiresAt)
}
