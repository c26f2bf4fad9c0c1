package billing_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/internal/statustest"
)

// TestAdminSetStatus sets statuses by hand: a namespace without a
// subscription gets a manual one, canceled ends the paid period now, and
// the tenant sees what the admin set.
func TestAdminSetStatus(t *testing.T) {
	e := newEnv(t, providers[0])
	sub := e.setStatus(t, "comped-ns", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	if sub.GetProvider() != billing.ProviderManual || sub.GetStatus() != billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE {
		t.Errorf("AdminSetStatus(comped-ns, active) = %v, want an active manual subscription", sub)
	}
	sub = e.setStatus(t, "comped-ns", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED)
	if end := sub.GetCurrentPeriodEnd().AsTime(); end.After(time.Now()) {
		t.Errorf("canceled by hand: period ends %s, want now or earlier", end)
	}
	owner := e.user(t, "comped-ns", "owner@example.com", "admin")
	got, err := e.viaProxy(t).GetSubscription(owner, &billingv1.GetSubscriptionRequest{})
	if err != nil || got.GetSubscription().GetStatus() != billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED {
		t.Errorf("GetSubscription() as the tenant = %v, %v, want CANCELED", got, err)
	}
	list, err := e.viaProxy(t).ListSubscriptions(e.admin, &billingv1.ListSubscriptionsRequest{})
	if err != nil || len(list.GetSubscriptions()) != 1 || list.GetSubscriptions()[0].GetNamespace() != "comped-ns" {
		t.Errorf("ListSubscriptions() = %v, %v, want comped-ns alone", list, err)
	}
	_, err = e.viaProxy(t).GetSubscription(e.admin, &billingv1.GetSubscriptionRequest{Namespace: "not-billed"})
	statustest.Want(t, "GetSubscription(not-billed)", err, codes.NotFound, `namespace "not-billed" has no subscription`)
	if sub = e.setStatus(t, "comped-ns", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE); sub.GetCurrentPeriodEnd() != nil {
		t.Errorf("manual subscription active again: period ends %v, want no paid period", sub.GetCurrentPeriodEnd().AsTime())
	}
}

// TestAdminReactivates sets a paying namespace canceled, then active again
// by hand: a new paid period starts, so that its tenant's cancel later ends
// the subscription at the end of that period, not at once.
func TestAdminReactivates(t *testing.T) {
	e := newEnv(t, providers[0])
	e.signup(t, providers[0], "tenant-a")
	e.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED)
	sub := e.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	if end := sub.GetCurrentPeriodEnd().AsTime(); end.Before(time.Now().AddDate(0, 1, -1)) {
		t.Errorf("active again by hand: period ends %s, want about a month from now", end)
	}
	owner := e.user(t, "tenant-a", "owner@example.com", "admin", "developer")
	resp, err := e.viaProxy(t).Cancel(owner, &billingv1.CancelRequest{})
	if err != nil {
		t.Fatalf("Cancel() = %v", err)
	}
	st := &billingv1.NamespaceStatus{
		Status: resp.GetSubscription().GetStatus(), CancelAtPeriodEnd: resp.GetSubscription().GetCancelAtPeriodEnd(),
		CurrentPeriodEnd: resp.GetSubscription().GetCurrentPeriodEnd(),
	}
	if got := billing.StandingOf(st, time.Now(), billing.DefaultGrace); got != billing.Good {
		t.Errorf("standing after the tenant's cancel = %v, want good until the period ends", got)
	}
}

// TestBadInput sends every RPC malformed requests: each gets
// InvalidArgument naming the field, and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, providers[0])
	auth, router, admin := e.core(t, "auth"), e.core(t, "router"), e.viaProxy(t)
	session := e.openSession(t)
	tests := []struct {
		name, field string
		call        func() error
	}{
		{"email", "email", func() error {
			_, err := auth.StartCheckout(t.Context(), &billingv1.StartCheckoutRequest{Email: "Ann <ann@example.com>", IdempotencyKey: "key-12345"})
			return err
		}},
		{"short key", "idempotency_key", func() error {
			_, err := auth.StartCheckout(t.Context(), &billingv1.StartCheckoutRequest{Email: "ann@example.com", IdempotencyKey: "k"})
			return err
		}},
		{"session id", "payment_session_id", func() error {
			_, err := auth.GetCheckout(t.Context(), &billingv1.GetCheckoutRequest{PaymentSessionId: "../x"})
			return err
		}},
		{"card letters", "card", func() error {
			_, err := router.SubmitCard(t.Context(), &billingv1.SubmitCardRequest{PaymentSessionId: session, Card: "4242-abcd"})
			return err
		}},
		{"unknown test card", "card", func() error {
			_, err := router.SubmitCard(t.Context(), &billingv1.SubmitCardRequest{PaymentSessionId: session, Card: "5555555555554444"})
			return err
		}},
		{"namespace", "namespace", func() error {
			_, err := auth.CreateSubscription(t.Context(), &billingv1.CreateSubscriptionRequest{
				Namespace: "Bad_NS", Account: "a", Email: "a@example.com", PaymentSessionId: session, IdempotencyKey: "key-12345",
			})
			return err
		}},
		{"status", "status", func() error {
			_, err := admin.AdminSetStatus(e.admin, &billingv1.AdminSetStatusRequest{Namespace: "tenant-a", Status: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_INCOMPLETE})
			return err
		}},
		{"page size", "page_size", func() error {
			_, err := admin.ListSubscriptions(e.admin, &billingv1.ListSubscriptionsRequest{PageSize: 5000})
			return err
		}},
		{"return url", "return_url", func() error {
			_, err := admin.Portal(e.admin, &billingv1.PortalRequest{Namespace: "tenant-a", ReturnUrl: "javascript:alert(1)"})
			return err
		}},
		{"empty webhook", "payload", func() error {
			_, err := router.HandleWebhook(t.Context(), &billingv1.HandleWebhookRequest{Signature: "t=1,v1=00"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantField(t, tt.name, tt.call(), tt.field) })
	}
	got, err := auth.GetCheckout(t.Context(), &billingv1.GetCheckoutRequest{PaymentSessionId: session})
	if err != nil || got.GetCheckout().GetState() != billingv1.CheckoutState_CHECKOUT_STATE_OPEN {
		t.Errorf("session after bad cards = %v, %v, want still OPEN", got, err)
	}
}

// TestDeclinedCard checks the declined test card: FailedPrecondition with
// the reason CARD_DECLINED, and the session still open for another card.
func TestDeclinedCard(t *testing.T) {
	e := newEnv(t, providers[0])
	session := e.openSession(t)
	_, err := e.core(t, "router").SubmitCard(t.Context(), &billingv1.SubmitCardRequest{PaymentSessionId: session, Card: "4000 0000 0000 0002"})
	statustest.WantCode(t, "SubmitCard(declined card)", err, codes.FailedPrecondition)
	if r := reason(err); r != billing.ReasonCardDeclined {
		t.Errorf("SubmitCard(declined card) reason = %q, want %q", r, billing.ReasonCardDeclined)
	}
	resp, err := e.core(t, "router").SubmitCard(t.Context(), &billingv1.SubmitCardRequest{PaymentSessionId: session, Card: "4242 4242 4242 4242"})
	if err != nil || resp.GetCheckout().GetState() != billingv1.CheckoutState_CHECKOUT_STATE_COMPLETE {
		t.Errorf("SubmitCard(accepted card after a decline) = %v, %v, want COMPLETE", resp, err)
	}
}
