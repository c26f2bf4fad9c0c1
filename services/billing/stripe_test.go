package billing_test

import (
	"testing"

	"m3o.dev/services/billing"
)

// TestStripeRequests checks, through the recorder in front of stripe-mock
// (which keeps no state), what a sign-up asks of Stripe: a customer with
// the email, a setup-mode Checkout Session returning to the platform's
// pages, and one subscription to the developer price, each creating request
// with an idempotency key.
func TestStripeRequests(t *testing.T) {
	pv := providers[1]
	e := newEnv(t, pv)
	sub := e.signup(t, pv, "tenant-s")
	rec := e.recorder
	tests := []struct {
		path  string
		field string
		want  string
	}{
		{"/v1/customers", "email", "tenant-s@example.com"},
		{"/v1/checkout/sessions", "mode", "setup"},
		{"/v1/checkout/sessions", "success_url", publicURL + billing.DonePath + "?session="},
		{"/v1/checkout/sessions", "cancel_url", publicURL + billing.PagePath + "?session="},
		{"/v1/checkout/sessions", "payment_method_types[0]", "card"},
		{"/v1/subscriptions", "items[0][price]", testPrice},
		{"/v1/subscriptions", "metadata[m3o_namespace]", sub.GetNamespace()},
	}
	for _, tt := range tests {
		reqs := rec.Find("POST", tt.path)
		if len(reqs) != 1 {
			t.Errorf("POST %s made %d times, want once", tt.path, len(reqs))
			continue
		}
		if got := reqs[0].Form.Get(tt.field); !hasPrefix(got, tt.want) {
			t.Errorf("POST %s %s = %q, want %q…", tt.path, tt.field, got, tt.want)
		}
		if reqs[0].IdempotencyKey == "" {
			t.Errorf("POST %s has no Idempotency-Key", tt.path)
		}
	}
	session := rec.Find("POST", "/v1/checkout/sessions")
	if len(session) == 1 && session[0].Form.Get("client_reference_id") == "" {
		t.Errorf("the Checkout Session names no client_reference_id: the webhook could not find the payment session")
	}
}
