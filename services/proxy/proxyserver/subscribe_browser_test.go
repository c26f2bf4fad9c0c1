package proxyserver_test

import (
	"net/http"
	"strings"
	"testing"

	"m3o.dev/services/billing/billingtest"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/internal/coretest"
)

// waitForPage waits until the HTTP port serves a session's page, so the
// browser does not race the proxy's start.
func waitForPage(t *testing.T, page string) {
	t.Helper()
	coretest.Eventually(t, "the subscribe page", func() error {
		code, body, _ := fetch(t, http.MethodGet, page, nil, nil)
		return wantHTTP(code, http.StatusOK, body)
	})
}

// TestSubscribePageInChromium fills the local provider's subscribe page in
// headless Chromium as a person would: the declined card gets 402 and a
// message, then the accepted card gets "Payment received".
func TestSubscribePageInChromium(t *testing.T) {
	b := newBilled(t, local.New(), 0)
	page := b.session(t, "chromium-local-key").GetUrl()
	waitForPage(t, page)
	browser := billingtest.NewBrowser(t)
	shown := browser.Open(t, page)
	if !strings.Contains(shown.Text, "$35.00/month") || !strings.Contains(shown.Text, "developer") {
		t.Fatalf("page shows %q, want the developer plan at $35.00/month", shown.Text)
	}
	declined := browser.PayWithCard(t, local.CardDeclined)
	if declined.Status != http.StatusPaymentRequired || !strings.Contains(declined.Text, "declined") {
		t.Errorf("declined card: %d %q, want 402 saying declined", declined.Status, declined.Text)
	}
	accepted := browser.PayWithCard(t, local.CardAccepted)
	if accepted.Status != http.StatusOK || !strings.Contains(accepted.Text, "Payment received, return to your terminal") {
		t.Errorf("accepted card: %d %q, want 200 saying Payment received", accepted.Status, accepted.Text)
	}
}

// TestStripePageRedirectsToCheckout opens a stripe session's page in
// headless Chromium: it shows the plan and sends the browser on to the
// Checkout URL stripe-mock gave (the recorder's stand-in, so the browser
// stays on this machine).
func TestStripePageRedirectsToCheckout(t *testing.T) {
	rec := billingtest.NewRecorder(t, billingtest.StartStripeMock(t).URL)
	provider, err := stripe.New(stripe.Options{Key: "sk_test_m3o", WebhookSecret: billingtest.WebhookSecret, Price: "price_dev", URL: rec.URL})
	if err != nil {
		t.Fatal(err)
	}
	b := newBilled(t, provider, 0)
	co := b.session(t, "chromium-stripe-key")
	if !strings.HasPrefix(co.GetProviderUrl(), rec.URL+billingtest.HostedPath+"checkout.stripe.com/") {
		t.Fatalf("provider URL = %q, want stripe-mock's Checkout URL through the recorder", co.GetProviderUrl())
	}
	waitForPage(t, co.GetUrl())
	browser := billingtest.NewBrowser(t)
	browser.Open(t, co.GetUrl())
	landed := browser.WaitForURL(t, co.GetProviderUrl())
	if landed.Title != billingtest.HostedTitle {
		t.Errorf("the browser landed on %q titled %q, want the Checkout page", landed.URL, landed.Title)
	}
}
