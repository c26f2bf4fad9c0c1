package billingtest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"m3o.dev/services/billing/billingtest"
)

// TestStripeMockBehindRecorder starts stripe-mock and asks it, through
// the recorder, for a Checkout Session: stripe-mock answers as Stripe
// would, the recorder keeps the request, and the hosted page's URL points
// back at the recorder.
func TestStripeMockBehindRecorder(t *testing.T) {
	rec := billingtest.NewRecorder(t, billingtest.StartStripeMock(t).URL)
	backends := stripego.NewBackendsWithConfig(&stripego.BackendConfig{URL: stripego.String(rec.URL)})
	sc := stripego.NewClient("sk_test_harness", stripego.WithBackends(backends))
	params := &stripego.CheckoutSessionCreateParams{
		Mode: stripego.String("setup"), Currency: stripego.String("usd"), Customer: stripego.String("cus_1"),
		SuccessURL: stripego.String("http://127.0.0.1/done"), CancelURL: stripego.String("http://127.0.0.1/page"),
	}
	params.SetIdempotencyKey("harness-key")
	s, err := sc.V1CheckoutSessions.Create(t.Context(), params)
	if err != nil {
		t.Fatalf("create checkout session through the recorder = %v", err)
	}
	if !strings.HasPrefix(s.URL, rec.URL+billingtest.HostedPath) {
		t.Errorf("checkout URL = %q, want it under %s%s", s.URL, rec.URL, billingtest.HostedPath)
	}
	got := rec.Find("POST", "/v1/checkout/sessions")
	if len(got) != 1 || got[0].Form.Get("success_url") != "http://127.0.0.1/done" || got[0].IdempotencyKey != "harness-key" {
		t.Errorf("recorded %+v, want one request with its form and idempotency key", got)
	}
}

// TestSignedEventVerifies checks that SignedEvent signs as Stripe does:
// stripe-go's own check accepts it, and rejects it under another secret.
func TestSignedEventVerifies(t *testing.T) {
	ev := billingtest.SignedEvent(t, billingtest.WebhookSecret, "customer.subscription.updated", time.Now(),
		billingtest.Subscription("sub_1", "tenant-a", "active", time.Now(), false))
	got, err := webhook.ConstructEvent(ev.Payload, ev.Signature, billingtest.WebhookSecret)
	if err != nil || got.ID != ev.ID {
		t.Errorf("ConstructEvent() = %v, %v, want event %s", got.ID, err, ev.ID)
	}
	if _, err := webhook.ConstructEvent(ev.Payload, ev.Signature, "whsec_other"); err == nil {
		t.Error("ConstructEvent(other secret) = nil, want an error")
	}
}

// TestBrowserFillsAForm drives Chromium through a form like the subscribe
// page's: it reads the page, types a card, and sees the answer's status.
func TestBrowserFillsAForm(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.ParseForm()
			w.WriteHeader(http.StatusPaymentRequired)
			io.WriteString(w, "<!doctype html><title>answer</title><p id=message>got "+r.PostForm.Get("card")+"</p>")
			return
		}
		io.WriteString(w, `<!doctype html><title>form</title><form method=post><input id=card name=card><button id=submit>Pay</button></form>`)
	}))
	defer srv.Close()
	b := billingtest.NewBrowser(t)
	if p := b.Open(t, srv.URL); p.Title != "form" || p.Status != http.StatusOK {
		t.Fatalf("Open() = %+v, want the form with 200", p)
	}
	p := b.PayWithCard(t, "4242")
	if p.Status != http.StatusPaymentRequired || !strings.Contains(p.Text, "got 4242") {
		t.Errorf("PayWithCard() = %+v, want 402 saying got 4242", p)
	}
}
