package stripe

import (
	"encoding/json"
	"fmt"
	"time"

	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"m3o.dev/services/billing"
)

// ParseEvent implements billing.Provider: it verifies the signature with
// webhook.ConstructEvent (which also refuses a signature older than five
// minutes) and only then reads the event.
func (p *Provider) ParseEvent(payload []byte, signature string) (billing.Event, error) {
	ev, err := webhook.ConstructEvent(payload, signature, p.secret)
	if err != nil {
		return billing.Event{}, fmt.Errorf("%w: %w", billing.ErrBadSignature, err)
	}
	out := billing.Event{ID: ev.ID, Created: time.Unix(ev.Created, 0).UTC(), Type: string(ev.Type)}
	if ev.Data == nil {
		return out, nil
	}
	switch ev.Type {
	case stripego.EventTypeCheckoutSessionCompleted:
		return checkoutEvent(out, ev.Data.Raw)
	case stripego.EventTypeCustomerSubscriptionCreated, stripego.EventTypeCustomerSubscriptionUpdated,
		stripego.EventTypeCustomerSubscriptionDeleted:
		return subscriptionEvent(out, ev.Data.Raw)
	}
	return out, nil
}

func checkoutEvent(out billing.Event, raw json.RawMessage) (billing.Event, error) {
	var s stripego.CheckoutSession
	if err := json.Unmarshal(raw, &s); err != nil {
		return billing.Event{}, fmt.Errorf("decode %s: %w", out.Type, err)
	}
	out.Kind = billing.EventCheckoutCompleted
	out.Checkout = billing.CheckoutEvent{SessionID: s.ClientReferenceID}
	if s.Customer != nil {
		out.Checkout.Customer = s.Customer.ID
	}
	if s.SetupIntent != nil {
		out.Checkout.SetupIntent = s.SetupIntent.ID
	}
	if s.Subscription != nil {
		out.Checkout.Subscription = s.Subscription.ID
	}
	return out, nil
}

func subscriptionEvent(out billing.Event, raw json.RawMessage) (billing.Event, error) {
	var s stripego.Subscription
	if err := json.Unmarshal(raw, &s); err != nil {
		return billing.Event{}, fmt.Errorf("decode %s: %w", out.Type, err)
	}
	out.Kind = billing.EventSubscriptionChanged
	out.Subscription = billing.SubscriptionEvent{
		Namespace: s.Metadata[metaNamespace], ProviderID: s.ID, Status: statusOf(s.Status),
		PeriodEnd: periodEnd(&s), CancelAtPeriodEnd: s.CancelAtPeriodEnd,
	}
	return out, nil
}

// statusOf maps Stripe's subscription statuses onto billing's four: a
// trial is active, an unpaid or paused subscription is past due, and an
// expired first payment is canceled.
func statusOf(s stripego.SubscriptionStatus) billing.Status {
	switch s {
	case stripego.SubscriptionStatusActive, stripego.SubscriptionStatusTrialing:
		return billing.StatusActive
	case stripego.SubscriptionStatusCanceled, stripego.SubscriptionStatusIncompleteExpired:
		return billing.StatusCanceled
	case stripego.SubscriptionStatusIncomplete:
		return billing.StatusIncomplete
	}
	return billing.StatusPastDue
}

// periodEnd is the end of the paid period: since API version 2025-03-31
// it is kept per subscription item, so the latest item's end.
func periodEnd(s *stripego.Subscription) time.Time {
	var end int64
	if s.Items != nil {
		for _, it := range s.Items.Data {
			end = max(end, it.CurrentPeriodEnd)
		}
	}
	if end == 0 {
		return time.Time{}
	}
	return time.Unix(end, 0).UTC()
}
