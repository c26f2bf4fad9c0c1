package proxyserver_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	platforms "m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/billingtest"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/internal/coretest"
)

// session opens a sign-up payment session as auth does and returns it.
func (b *billed) session(t *testing.T, key string) *billingv1.Checkout {
	t.Helper()
	conn := b.Dial(t, b.Addr(platforms.Billing), platforms.Namespace, platforms.Auth, coretest.Core(platforms.Billing))
	resp, err := billingv1.NewBillingServiceClient(conn).StartCheckout(t.Context(), &billingv1.StartCheckoutRequest{Email: "ann@example.com", IdempotencyKey: key})
	if err != nil {
		t.Fatalf("StartCheckout() = %v", err)
	}
	return resp.GetCheckout()
}

// fetch makes one request and returns the status and body.
func fetch(t *testing.T, method, u string, body io.Reader, header http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

// postCard posts the local form's card field to the page's own URL.
func postCard(t *testing.T, page, card string) (int, string) {
	t.Helper()
	form := url.Values{"card": {card}}.Encode()
	code, body, _ := fetch(t, http.MethodPost, page, strings.NewReader(form), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	return code, body
}

// TestSubscribePageLocal drives the local provider's page over plain
// HTTP: the plan and price with a card form, a declined card (402 with a
// message), an invalid one (400), then the accepted card.
func TestSubscribePageLocal(t *testing.T) {
	b := newBilled(t, local.New(), 0)
	page := b.session(t, "page-test-key").GetUrl()
	var code int
	var body string
	var header http.Header
	coretest.Eventually(t, "GET the subscribe page", func() error {
		code, body, header = fetch(t, http.MethodGet, page, nil, nil)
		return wantHTTP(code, http.StatusOK, body)
	})
	for _, want := range []string{"$35.00/month", "developer", `name="card"`, "ann@example.com"} {
		if !strings.Contains(body, want) {
			t.Errorf("subscribe page lacks %q:\n%s", want, body)
		}
	}
	if csp := header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(body, "https://") {
		t.Errorf("subscribe page CSP %q, or it loads something from elsewhere", csp)
	}
	tests := []struct {
		card string
		code int
		says string
	}{
		{local.CardDeclined, http.StatusPaymentRequired, "declined"},
		{"1234", http.StatusBadRequest, "card"},
		{local.CardAccepted, http.StatusOK, "Payment received, return to your terminal"},
		{local.CardDeclined, http.StatusOK, "Payment received"},
	}
	for _, tt := range tests {
		code, body := postCard(t, page, tt.card)
		if code != tt.code || !strings.Contains(body, tt.says) {
			t.Errorf("POST card=%s = %d, want %d saying %q:\n%s", tt.card, code, tt.code, tt.says, body)
		}
	}
}

// TestSubscribePageUnknownSession checks that a made-up session is 404 and
// says to start again.
func TestSubscribePageUnknownSession(t *testing.T) {
	b := newBilled(t, local.New(), 0)
	u := "http://" + b.Addr("http") + billing.PagePath + "?session=ps_madeup"
	coretest.Eventually(t, "GET an unknown session", func() error {
		code, body, _ := fetch(t, http.MethodGet, u, nil, nil)
		return wantHTTP(code, http.StatusNotFound, body)
	})
}

// TestStripeWebhookRoute posts Stripe events to /webhooks/stripe: a bad
// signature is 400 and changes nothing, a genuine event completes the
// payment session, and a body over the cap is 413.
func TestStripeWebhookRoute(t *testing.T) {
	rec := billingtest.NewRecorder(t, billingtest.StartStripeMock(t).URL)
	provider, err := stripe.New(stripe.Options{Key: "sk_test_m3o", WebhookSecret: billingtest.WebhookSecret, Price: "price_dev", URL: rec.URL})
	if err != nil {
		t.Fatal(err)
	}
	b := newBilled(t, provider, 0)
	co := b.session(t, "webhook-route-key")
	ev := billingtest.SignedEvent(t, billingtest.WebhookSecret, "checkout.session.completed", time.Now(),
		billingtest.CheckoutCompleted(co.GetId(), co.GetCustomer(), "seti_1", ""))
	hook := "http://" + b.Addr("http") + "/webhooks/stripe"
	post := func(payload []byte, sig string) (int, string) {
		code, body, _ := fetch(t, http.MethodPost, hook, bytes.NewReader(payload), http.Header{"Stripe-Signature": {sig}})
		return code, body
	}
	coretest.Eventually(t, "a forged event refused", func() error {
		code, body := post(ev.Payload, billingtest.Sign(ev.Payload, "whsec_wrong"))
		return wantHTTP(code, http.StatusBadRequest, body)
	})
	if st := b.checkoutState(t, co.GetId()); st != billingv1.CheckoutState_CHECKOUT_STATE_OPEN {
		t.Errorf("session after a forged event = %v, want OPEN", st)
	}
	if code, body := post(ev.Payload, ev.Signature); code != http.StatusOK {
		t.Errorf("POST genuine event = %d %s, want 200", code, body)
	}
	if st := b.checkoutState(t, co.GetId()); st != billingv1.CheckoutState_CHECKOUT_STATE_COMPLETE {
		t.Errorf("session after the genuine event = %v, want COMPLETE", st)
	}
	if code, _ := post(bytes.Repeat([]byte("x"), billing.MaxWebhookBytes+1), ev.Signature); code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST an oversized event = %d, want 413", code)
	}
}

// checkoutState reads a session as auth does.
func (b *billed) checkoutState(t *testing.T, id string) billingv1.CheckoutState {
	t.Helper()
	conn := b.Dial(t, b.Addr(platforms.Billing), platforms.Namespace, platforms.Auth, coretest.Core(platforms.Billing))
	resp, err := billingv1.NewBillingServiceClient(conn).GetCheckout(t.Context(), &billingv1.GetCheckoutRequest{PaymentSessionId: id})
	if err != nil {
		t.Fatalf("GetCheckout() = %v", err)
	}
	return resp.GetCheckout().GetState()
}

// wantHTTP returns nil when an answer's status is want.
func wantHTTP(got, want int, body string) error {
	if got != want {
		return fmt.Errorf("HTTP %d (%s), want %d", got, body, want)
	}
	return nil
}
