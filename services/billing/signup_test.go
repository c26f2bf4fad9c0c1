package billing_test

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/internal/statustest"
)

// TestSignup runs the billing side of a sign-up against each provider, as
// auth's sign-up will call it: a checkout whose retry is the same session,
// the card, then a subscription whose retry is the same subscription.
func TestSignup(t *testing.T) {
	for _, pv := range providers {
		t.Run(pv.name, func(t *testing.T) {
			e := newEnv(t, pv)
			auth := e.core(t, platform.Auth)
			start := &billingv1.StartCheckoutRequest{Email: "ann@example.com", IdempotencyKey: "signup-ann-0001"}
			first, err := auth.StartCheckout(t.Context(), start)
			if err != nil {
				t.Fatalf("StartCheckout() = %v", err)
			}
			co := first.GetCheckout()
			checkPage(t, co)
			again, err := auth.StartCheckout(t.Context(), start)
			if err != nil || again.GetCheckout().GetId() != co.GetId() {
				t.Errorf("StartCheckout(same key) = %v, %v, want session %s again", again.GetCheckout().GetId(), err, co.GetId())
			}

			create := &billingv1.CreateSubscriptionRequest{
				Namespace: "brave-otter-lamp", Account: "acc-1", Email: "ann@example.com",
				PaymentSessionId: co.GetId(), IdempotencyKey: "complete-ann-0001",
			}
			_, err = auth.CreateSubscription(t.Context(), create)
			statustest.WantCode(t, "CreateSubscription(before the card)", err, codes.FailedPrecondition)

			pv.complete(t, e, co)
			got, err := auth.GetCheckout(t.Context(), &billingv1.GetCheckoutRequest{PaymentSessionId: co.GetId()})
			if err != nil || got.GetCheckout().GetState() != billingv1.CheckoutState_CHECKOUT_STATE_COMPLETE {
				t.Fatalf("GetCheckout(after the card) = %v, %v, want COMPLETE", got, err)
			}
			checkSubscriptionIsIdempotent(t, e, create)
		})
	}
}

// checkPage checks that a session's page is the platform's subscribe page
// with the session in it.
func checkPage(t *testing.T, co *billingv1.Checkout) {
	t.Helper()
	u, err := url.Parse(co.GetUrl())
	if err != nil || !hasPrefix(co.GetUrl(), publicURL+billing.PagePath+"?") || u.Query().Get(billing.SessionParam) != co.GetId() {
		t.Errorf("checkout url = %q, want %s%s?session=%s", co.GetUrl(), publicURL, billing.PagePath, co.GetId())
	}
	if co.GetState() != billingv1.CheckoutState_CHECKOUT_STATE_OPEN || co.GetPlan().GetAmountCents() != 3500 || co.GetPlan().GetCurrency() != "usd" {
		t.Errorf("checkout = %v, want an open session for 3500 usd", co)
	}
}

// checkSubscriptionIsIdempotent creates the subscription, then retries it:
// the same subscription comes back, and another key for the namespace is
// refused.
func checkSubscriptionIsIdempotent(t *testing.T, e *env, create *billingv1.CreateSubscriptionRequest) {
	t.Helper()
	auth := e.core(t, platform.Auth)
	first, err := auth.CreateSubscription(t.Context(), create)
	if err != nil {
		t.Fatalf("CreateSubscription() = %v", err)
	}
	sub := first.GetSubscription()
	if sub.GetNamespace() != create.GetNamespace() || sub.GetProviderId() == "" || sub.GetPlan().GetAmountCents() != 3500 {
		t.Errorf("CreateSubscription() = %v, want the developer plan for %s", sub, create.GetNamespace())
	}
	retry, err := auth.CreateSubscription(t.Context(), create)
	if diff := cmp.Diff(sub, retry.GetSubscription(), protocmp.Transform()); err != nil || diff != "" {
		t.Errorf("CreateSubscription(retry) = %v (-first +retry):\n%s", err, diff)
	}
	other := proto.CloneOf(create)
	other.IdempotencyKey = "complete-someone-else"
	_, err = auth.CreateSubscription(t.Context(), other)
	statustest.WantCode(t, "CreateSubscription(another key)", err, codes.AlreadyExists)
	if e.recorder != nil {
		if n := len(e.recorder.Find("POST", "/v1/subscriptions")); n != 1 {
			t.Errorf("POST /v1/subscriptions made %d times, want once", n)
		}
	}
}

// TestSessionPaysForOneNamespace checks that a completed sign-up session
// cannot pay for a second namespace.
func TestSessionPaysForOneNamespace(t *testing.T) {
	e := newEnv(t, providers[0])
	auth := e.core(t, platform.Auth)
	first := e.signup(t, providers[0], "first-ns")
	co, err := auth.StartCheckout(t.Context(), &billingv1.StartCheckoutRequest{Email: "first-ns@example.com", IdempotencyKey: "signup-first-ns"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.CreateSubscription(t.Context(), &billingv1.CreateSubscriptionRequest{
		Namespace: "second-ns", Account: "acc-2", Email: "b@example.com",
		PaymentSessionId: co.GetCheckout().GetId(), IdempotencyKey: "subscribe-second",
	})
	statustest.WantCode(t, "CreateSubscription(second namespace, "+first.GetNamespace()+"'s session)", err, codes.FailedPrecondition)
}
