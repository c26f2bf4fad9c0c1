// Package billing is the platform's billing service: the
// m3o.billing.v1.BillingService over the store service and a payment
// Provider.
//
// Every namespace created by sign-up has one subscription to the developer
// plan, 3500 cents a month. Namespaces an admin creates have none and are
// not billed. The state lives in the store service's `_billing` system
// database, which only the identity micro/billing may open:
//
//	table "subscriptions", key <namespace>          the subscription, with the created time of the last change applied
//	table "checkouts",     key <payment session id> a payment session behind one subscribe page (24 h)
//	table "checkoutkeys",  key <idempotency key>    the session a StartCheckout key made (24 h)
//	table "events",        key <provider event id>  the webhook events already applied (30 days)
//	table "changes",       key <bucket>/<namespace> recent status changes, which watchers on other replicas poll (10 min)
//
// Money is integers in the currency's smallest unit, never floats.
//
// Webhooks are verified by the Provider before anything is read from them.
// An event's id is remembered for 30 days, so a replay changes nothing, and
// a subscription takes the state of the event with the newest created time,
// whatever order events arrive in: an older event than the last one applied
// is acknowledged and ignored. A status an admin sets counts as an event
// created when it was set.
//
// Payment gating is decided by StandingOf from a namespace's status, its
// time and the grace period, the same way in the proxy and the runtime,
// both of which follow the statuses through WatchStatuses.
package billing

import (
	"context"
	"errors"
	"time"

	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
	"m3o.dev/services/internal/storeclient"
)

// The developer plan, the only one.
const (
	// PlanDeveloper names the plan.
	PlanDeveloper = "developer"
	// PlanAmountCents is its monthly price in cents.
	PlanAmountCents int64 = 3500
	// PlanCurrency is its currency, ISO 4217 lower-case.
	PlanCurrency = "usd"
	// PlanInterval is its billing period.
	PlanInterval = "month"
)

// Fixed names, lifetimes and limits.
const (
	// Database is the store service's system database of billing.
	Database = "_billing"
	// ProviderManual names the subscriptions an admin set by hand, which no
	// provider bills.
	ProviderManual = "manual"
	// CheckoutTTL is how long a payment session and its idempotency key
	// are kept.
	CheckoutTTL = 24 * time.Hour
	// EventMemory is how long a webhook event's id is remembered.
	EventMemory = 30 * 24 * time.Hour
	// MaxWebhookBytes is the largest webhook payload accepted.
	MaxWebhookBytes = 256 << 10
	// DefaultPollInterval is how often a watch looks for changes made
	// through other replicas.
	DefaultPollInterval = time.Second
)

// Status is where a subscription stands.
type Status string

// The statuses of a subscription.
const (
	// StatusActive subscriptions are paid up.
	StatusActive Status = "active"
	// StatusPastDue subscriptions failed a payment.
	StatusPastDue Status = "past_due"
	// StatusCanceled subscriptions have ended, or end at the period's end.
	StatusCanceled Status = "canceled"
	// StatusIncomplete subscriptions await their first payment.
	StatusIncomplete Status = "incomplete"
)

// Purpose says what a payment session is for.
type Purpose string

// The purposes of a payment session.
const (
	// PurposeSignup takes the card of someone signing up.
	PurposeSignup Purpose = "signup"
	// PurposeUpdateCard changes the card of a subscription.
	PurposeUpdateCard Purpose = "update_card"
	// PurposeResubscribe starts a new subscription after a cancel.
	PurposeResubscribe Purpose = "resubscribe"
)

// Store is the store service's client; the connection must present the
// identity micro/billing, the one identity the store lets open _billing.
type Store = storeclient.Store

// Sentinel errors; status.go maps each to one gRPC code.
var (
	// ErrNotFound means the namespace has no subscription, or the payment
	// session does not exist or has expired.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the request is malformed; the error is an
	// *invalid.Error naming the fields.
	ErrInvalid = invalid.ErrInvalid
	// ErrUnauthenticated means the call carries no verified identity.
	ErrUnauthenticated = rpcerr.ErrUnauthenticated
	// ErrPermissionDenied means the caller may not make this call or name
	// this namespace.
	ErrPermissionDenied = rpcerr.ErrPermissionDenied
	// ErrAlreadyExists means the namespace already has a subscription made
	// with another idempotency key.
	ErrAlreadyExists = errors.New("already exists")
	// ErrNotReady means the payment session has no payment method yet, or
	// was used for another namespace.
	ErrNotReady = errors.New("payment session not ready")
	// ErrEnded means the subscription has ended, so only a new one brings
	// it back.
	ErrEnded = errors.New("subscription ended")
	// ErrSetByHand means the subscription is one an admin set by hand,
	// which only admins change.
	ErrSetByHand = errors.New("set by hand")
	// ErrDeclined means the provider declined the card.
	ErrDeclined = errors.New("card declined")
	// ErrBadSignature means a webhook's signature did not verify.
	ErrBadSignature = errors.New("bad webhook signature")
	// ErrUnsupported means the provider does not do what was asked, such as
	// taking a card number (only local does) or webhooks (only stripe).
	ErrUnsupported = errors.New("not supported by this payment provider")
	// ErrProvider means the payment provider failed or could not be
	// reached; the caller may retry.
	ErrProvider = errors.New("payment provider unavailable")
	// ErrConflict means a change kept losing the compare-and-set race.
	ErrConflict = storeclient.ErrConflict
	// ErrUnavailable means the store service could not be reached.
	ErrUnavailable = storeclient.ErrUnavailable
)

// Provider is a payment provider: it keeps the customers, cards and
// subscriptions, and reports changes to them as signed events. The service
// keeps its own record of each and calls the provider only to create or
// change something; every call that creates something passes the key it is
// given as the provider's idempotency key.
type Provider interface {
	// Name is the provider's name: "stripe" or "local".
	Name() string
	// StartCheckout makes the provider's side of a payment session: a
	// customer, and for a hosted checkout the page that takes the card.
	StartCheckout(ctx context.Context, p CheckoutParams) (ProviderCheckout, error)
	// TakeCard checks a card number typed into the platform's own page;
	// providers with a hosted checkout return ErrUnsupported.
	TakeCard(ctx context.Context, card string) error
	// Subscribe creates the subscription for the payment method of a
	// completed session.
	Subscribe(ctx context.Context, p SubscribeParams) (ProviderSubscription, error)
	// Cancel ends a subscription at the end of its paid period.
	Cancel(ctx context.Context, sub Subscription) error
	// Resume takes back a cancel while the paid period lasts.
	Resume(ctx context.Context, sub Subscription) error
	// Portal returns the provider's page where the card is changed, or ""
	// when the platform's own page does it.
	Portal(ctx context.Context, sub Subscription, returnURL string) (string, error)
	// ParseEvent verifies a webhook's signature and returns its event. A bad
	// signature wraps ErrBadSignature.
	ParseEvent(payload []byte, signature string) (Event, error)
}

// CheckoutParams describe a payment session to the provider.
type CheckoutParams struct {
	// SessionID is the platform's id of the session.
	SessionID string
	// Purpose is what the session is for.
	Purpose Purpose
	// Email is the payer's.
	Email string
	// Namespace is set for every purpose but sign-up.
	Namespace string
	// Customer is the provider's customer to reuse; empty makes one.
	Customer string
	// PageURL is the session's subscribe page, where a hosted checkout
	// returns on cancel.
	PageURL string
	// DoneURL is where a hosted checkout returns once it succeeds.
	DoneURL string
	// Key is the idempotency key of the calls that create something.
	Key string
}

// ProviderCheckout is the provider's side of a payment session.
type ProviderCheckout struct {
	// ID is the provider's id of the session; empty for the local form.
	ID string
	// URL is the provider's page that takes the card; empty for the local
	// form.
	URL string
	// Customer is the provider's customer.
	Customer string
}

// SubscribeParams describe a subscription to create.
type SubscribeParams struct {
	// Namespace and Account are what the subscription pays for.
	Namespace, Account string
	// Customer is the provider's customer of the completed session.
	Customer string
	// SetupIntent is the provider's record of the card the session took.
	SetupIntent string
	// Key is the idempotency key: the same key makes one subscription.
	Key string
}

// ProviderSubscription is the provider's side of a subscription.
type ProviderSubscription struct {
	// ID is the provider's id of the subscription.
	ID string
	// Status is where it stands.
	Status Status
	// PeriodEnd is when the paid period ends.
	PeriodEnd time.Time
}

// EventKind tells what an event changes.
type EventKind int

// The kinds of events the service applies.
const (
	// EventIgnored is an event of a kind billing does not act on.
	EventIgnored EventKind = iota
	// EventCheckoutCompleted means a hosted checkout took a card or
	// started a subscription.
	EventCheckoutCompleted
	// EventSubscriptionChanged carries the state of a subscription.
	EventSubscriptionChanged
)

// Event is a verified webhook event.
type Event struct {
	// ID is the provider's id of the event, remembered against replays.
	ID string
	// Created is when the provider created it: the newest wins.
	Created time.Time
	// Kind tells which of the fields below is set.
	Kind EventKind
	// Type is the provider's name for the event, for logs.
	Type string
	// Checkout is set for EventCheckoutCompleted.
	Checkout CheckoutEvent
	// Subscription is set for EventSubscriptionChanged.
	Subscription SubscriptionEvent
}

// CheckoutEvent is a completed hosted checkout.
type CheckoutEvent struct {
	// SessionID is the platform's id of the session.
	SessionID string
	// Customer is the provider's customer.
	Customer string
	// SetupIntent records the card taken, for a sign-up.
	SetupIntent string
	// Subscription is the provider's new subscription, for a resubscribe.
	Subscription string
}

// SubscriptionEvent is the state of a subscription at the provider.
type SubscriptionEvent struct {
	// Namespace is the one the subscription pays for, from its metadata.
	Namespace string
	// ProviderID is the provider's id of the subscription.
	ProviderID string
	// Status is where it stands.
	Status Status
	// PeriodEnd is when the paid period ends.
	PeriodEnd time.Time
	// CancelAtPeriodEnd is true once it is set to end.
	CancelAtPeriodEnd bool
}
