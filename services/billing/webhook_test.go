package billing_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing/billingtest"
	"m3o.dev/services/internal/statustest"
)

// TestWebhooks sends the events a hostile or unlucky network would: a bad
// signature, a replay, and events out of order. Each leaves the state the
// newest genuine event describes.
func TestWebhooks(t *testing.T) {
	stripeProvider := providers[1]
	e := newEnv(t, stripeProvider)
	sub := e.signup(t, stripeProvider, "tenant-w")
	id, ns := sub.GetProviderId(), sub.GetNamespace()
	base := time.Now().Add(-time.Minute)
	event := func(status string, at time.Time) billingtest.Event {
		return billingtest.SignedEvent(t, billingtest.WebhookSecret, "customer.subscription.updated", at,
			billingtest.Subscription(id, ns, status, at.Add(30*24*time.Hour), false))
	}
	pastDue, active := event("past_due", base.Add(10*time.Second)), event("active", base.Add(20*time.Second))
	forged := event("canceled", base.Add(30*time.Second))
	forged.Signature = billingtest.Sign(forged.Payload, "whsec_not_the_secret")
	tampered := event("canceled", base.Add(40*time.Second))
	tampered.Payload = append(tampered.Payload[:len(tampered.Payload)-1], []byte(`,"x":1}`)...)

	tests := []struct {
		name      string
		ev        billingtest.Event
		code      codes.Code
		applied   bool
		wantAfter billingv1.SubscriptionStatus
	}{
		{"active", active, codes.OK, true, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
		{"older past_due after active", pastDue, codes.OK, false, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
		{"replayed active", active, codes.OK, false, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
		{"wrong secret", forged, codes.InvalidArgument, false, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
		{"tampered payload", tampered, codes.InvalidArgument, false, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE},
		{"newer past_due", event("past_due", base.Add(50*time.Second)), codes.OK, true, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			applied, err := e.webhook(t, tt.ev)
			statustest.WantCode(t, "HandleWebhook("+tt.name+")", err, tt.code)
			if applied != tt.applied {
				t.Errorf("HandleWebhook(%s) applied = %v, want %v", tt.name, applied, tt.applied)
			}
			got, err := e.viaProxy(t).GetSubscription(e.admin, &billingv1.GetSubscriptionRequest{Namespace: ns})
			if err != nil || got.GetSubscription().GetStatus() != tt.wantAfter {
				t.Errorf("after %s: status = %v, %v, want %v", tt.name, got.GetSubscription().GetStatus(), err, tt.wantAfter)
			}
		})
	}
}

// TestWebhookOfUnknownKindIsAcknowledged checks that an event billing does
// not act on is accepted, so that Stripe stops retrying it, and changes
// nothing.
func TestWebhookOfUnknownKindIsAcknowledged(t *testing.T) {
	e := newEnv(t, providers[1])
	ev := billingtest.SignedEvent(t, billingtest.WebhookSecret, "invoice.payment_succeeded", time.Now(), map[string]any{"id": "in_1", "object": "invoice"})
	applied, err := e.webhook(t, ev)
	if err != nil || applied {
		t.Errorf("HandleWebhook(invoice.payment_succeeded) = %v, %v, want not applied and no error", applied, err)
	}
}

// TestLocalProviderTakesNoWebhooks checks that the local provider, which
// sends none, accepts none.
func TestLocalProviderTakesNoWebhooks(t *testing.T) {
	e := newEnv(t, providers[0])
	ev := billingtest.SignedEvent(t, billingtest.WebhookSecret, "customer.subscription.updated", time.Now(),
		billingtest.Subscription("sub_1", "tenant-a", "canceled", time.Now(), false))
	_, err := e.core(t, platform.Router).HandleWebhook(t.Context(), &billingv1.HandleWebhookRequest{Payload: ev.Payload, Signature: ev.Signature})
	statustest.WantCode(t, "HandleWebhook(local provider)", err, codes.FailedPrecondition)
}
