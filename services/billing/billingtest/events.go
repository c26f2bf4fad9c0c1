package billingtest

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// WebhookSecret is the webhook signing secret tests configure.
const WebhookSecret = "whsec_m3o_test_secret"

// Event is a Stripe webhook event as it arrives: its id, the raw body and
// the Stripe-Signature header.
type Event struct {
	// ID is the event's id.
	ID string
	// Payload is the request body.
	Payload []byte
	// Signature is the Stripe-Signature header, signed now.
	Signature string
}

// SignedEvent builds an event of type typ about object, created at
// created, signed with secret as Stripe signs it.
func SignedEvent(t testing.TB, secret, typ string, created time.Time, object map[string]any) Event {
	t.Helper()
	id := "evt_" + strings.ToLower(rand.Text())
	payload, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripego.APIVersion, "created": created.Unix(),
		"type": typ, "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": object},
	})
	if err != nil {
		t.Fatal(err)
	}
	return Event{ID: id, Payload: payload, Signature: Sign(payload, secret)}
}

// Sign returns the Stripe-Signature header of payload, signed now with
// secret.
func Sign(payload []byte, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret}).Header
}

// CheckoutCompleted is the object of a checkout.session.completed event
// for the platform's payment session.
func CheckoutCompleted(session, customer, setupIntent, subscription string) map[string]any {
	obj := map[string]any{
		"id": "cs_test_" + session, "object": "checkout.session", "client_reference_id": session,
		"customer": customer, "status": "complete", "mode": "setup",
	}
	if setupIntent != "" {
		obj["setup_intent"] = setupIntent
	}
	if subscription != "" {
		obj["mode"], obj["subscription"] = "subscription", subscription
	}
	return obj
}

// Subscription is the object of a customer.subscription.* event.
func Subscription(id, namespace, status string, periodEnd time.Time, cancelAtPeriodEnd bool) map[string]any {
	return map[string]any{
		"id": id, "object": "subscription", "status": status, "cancel_at_period_end": cancelAtPeriodEnd,
		"metadata": map[string]string{"m3o_namespace": namespace},
		"items": map[string]any{"object": "list", "data": []map[string]any{
			{"id": "si_" + id, "object": "subscription_item", "current_period_end": periodEnd.Unix()},
		}},
	}
}
