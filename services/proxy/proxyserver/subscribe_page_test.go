package proxyserver

import (
	"bytes"
	"strings"
	"testing"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// TestSessionPageSaysWhatItDoes checks that the page of a card change, which
// 'micro billing portal' opens, asks to save a card rather than to pay, and
// says the card was saved when it went through.
func TestSessionPageSaysWhatItDoes(t *testing.T) {
	plan := &billingv1.Plan{Name: "developer", AmountCents: 3500, Currency: "usd", Interval: "month"}
	open := billingv1.CheckoutState_CHECKOUT_STATE_OPEN
	done := billingv1.CheckoutState_CHECKOUT_STATE_COMPLETE
	signUp := billingv1.CheckoutPurpose_CHECKOUT_PURPOSE_SIGNUP
	cardChange := billingv1.CheckoutPurpose_CHECKOUT_PURPOSE_UPDATE_CARD
	tests := []struct {
		name    string
		purpose billingv1.CheckoutPurpose
		state   billingv1.CheckoutState
		want    []string
	}{
		{"sign-up", signUp, open, []string{"<h1>Subscribe to M3O</h1>", ">Pay $35.00/month</button>"}},
		{"sign-up paid", signUp, done, []string{"Payment received, return to your terminal."}},
		{"card change", cardChange, open, []string{"<h1>Change your card</h1>", ">Save the card</button>", "resumes it after &#39;micro billing cancel&#39;"}},
		{"card changed", cardChange, done, []string{"Card saved, return to your terminal."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := sessionPage(&billingv1.Checkout{Plan: plan, Purpose: tt.purpose, State: tt.state})
			if err := subscribeTemplate().Execute(&out, p); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("page lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
