package proxyserver

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
)

// The routes of the subscribe page and the provider's webhooks on the
// HTTP port.
const (
	webhookPath = "/webhooks/stripe"
	// maxCardForm caps the subscribe form's body: a session id and a card
	// number.
	maxCardForm = 4 << 10
	// pageTimeout bounds the billing call behind one page.
	pageTimeout = 15 * time.Second
)

//go:embed pages/subscribe.html
var subscribeHTML string

// subscribeTemplate parses the page on first use, not at init, which every
// run of the micro binary pays; the page's tests parse it.
var subscribeTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("subscribe").Parse(subscribeHTML))
})

// page is what the subscribe page shows.
type page struct {
	Title, Error, Plan, Price, Email, ProviderURL, Nonce string
	// Button is the card form's button: a payment's price, or a card change;
	// Note, what else the form does.
	Button, Note string
	// Done says the session went through; Saved, that it changed a card
	// rather than took a payment.
	Done, Saved bool
}

// billingPages serves the subscribe page and relays the provider's webhooks
// to billing, calling it as micro/router: the browser and the provider
// carry no platform identity, only a payment session id or a signature.
type billingPages struct {
	billing billingv1.BillingServiceClient
	log     *slog.Logger
}

// mount adds the routes to mux.
func (b *billingPages) mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+billing.PagePath, b.show)
	mux.HandleFunc("POST "+billing.PagePath, b.submit)
	mux.HandleFunc("GET "+billing.DonePath, b.done)
	mux.HandleFunc("POST "+webhookPath, b.webhook)
}

// show renders a payment session: the plan and the price, and the form for
// the local provider or the way to Stripe Checkout; or that it is paid.
func (b *billingPages) show(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	resp, err := b.billing.GetCheckout(ctx, &billingv1.GetCheckoutRequest{PaymentSessionId: r.URL.Query().Get(billing.SessionParam)})
	if err != nil {
		b.render(w, b.failure(err), page{Title: "Subscribe", Error: pageError(err)})
		return
	}
	b.render(w, http.StatusOK, sessionPage(resp.GetCheckout()))
}

// submit takes the card number the local provider's form posts to the
// page's own URL.
func (b *billingPages) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCardForm)
	if err := r.ParseForm(); err != nil {
		b.render(w, http.StatusBadRequest, page{Title: "Subscribe", Error: "The form could not be read."})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	id := r.URL.Query().Get(billing.SessionParam)
	resp, err := b.billing.SubmitCard(ctx, &billingv1.SubmitCardRequest{PaymentSessionId: id, Card: r.PostForm.Get("card")})
	if err == nil {
		b.render(w, http.StatusOK, sessionPage(resp.GetCheckout()))
		return
	}
	p := page{Title: "Subscribe", Error: pageError(err)}
	if again, gerr := b.billing.GetCheckout(ctx, &billingv1.GetCheckoutRequest{PaymentSessionId: id}); gerr == nil {
		p = sessionPage(again.GetCheckout())
		p.Error = pageError(err)
	}
	b.render(w, b.failure(err), p)
}

// done is where Stripe Checkout returns after taking the card.
func (b *billingPages) done(w http.ResponseWriter, _ *http.Request) {
	b.render(w, http.StatusOK, page{Title: "Payment received", Done: true})
}

// sessionPage is the page of a payment session: a subscription to pay
// for, or the card of one to change ('micro billing portal').
func sessionPage(c *billingv1.Checkout) page {
	cardChange := c.GetPurpose() == billingv1.CheckoutPurpose_CHECKOUT_PURPOSE_UPDATE_CARD
	if c.GetState() == billingv1.CheckoutState_CHECKOUT_STATE_COMPLETE {
		if cardChange {
			return page{Title: "Card saved", Done: true, Saved: true}
		}
		return page{Title: "Payment received", Done: true}
	}
	plan := c.GetPlan()
	p := page{
		Title: "Subscribe to M3O", Plan: plan.GetName(), Price: price(plan), Email: c.GetEmail(), ProviderURL: c.GetProviderUrl(),
		Button: "Pay " + price(plan),
	}
	if cardChange {
		p.Title, p.Button = "Change your card", "Save the card"
		// billing's paid: a card saved after a cancel resumes the plan.
		p.Note = "Saving a card keeps the subscription going, and resumes it after 'micro billing cancel'."
	}
	return p
}

// price shows a plan's price, such as "$35.00/month".
func price(p *billingv1.Plan) string {
	amount := fmt.Sprintf("%d.%02d %s", p.GetAmountCents()/100, p.GetAmountCents()%100, p.GetCurrency())
	if p.GetCurrency() == "usd" {
		amount = fmt.Sprintf("$%d.%02d", p.GetAmountCents()/100, p.GetAmountCents()%100)
	}
	return amount + "/" + p.GetInterval()
}

// failure is the HTTP status of a billing error: 402 for a declined card.
func (b *billingPages) failure(err error) int {
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.FailedPrecondition:
		if reasonOf(st) == billing.ReasonCardDeclined {
			return http.StatusPaymentRequired
		}
		return http.StatusConflict
	}
	b.log.Warn("subscribe page: billing failed", "code", st.Code().String(), "error", st.Message())
	return http.StatusServiceUnavailable
}

// pageError is the sentence a billing error shows on the page.
func pageError(err error) string {
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument:
		if st.Message() != "" && len(st.Message()) < 200 {
			return "That does not work: " + st.Message() + "."
		}
		return "That card number is not valid."
	case codes.NotFound:
		return "This payment link is unknown or has expired: start again from your terminal."
	case codes.FailedPrecondition:
		return st.Message()
	}
	return "Payments are unavailable right now: try again in a minute."
}

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// render writes p with strict headers: no third-party anything, scripts
// only with this response's nonce, forms only to this origin, no framing.
func (b *billingPages) render(w http.ResponseWriter, code int, p page) {
	p.Nonce = rand.Text()
	var buf bytes.Buffer
	if err := subscribeTemplate().Execute(&buf, p); err != nil {
		b.log.Error("subscribe page: render", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+p.Nonce+
		"'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// webhook relays a provider's event to billing exactly as it came: the raw
// body, capped, and the signature header. A bad signature is 400 and
// changes nothing; a failure billing may recover from is 503, which the
// provider retries.
func (b *billingPages) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, billing.MaxWebhookBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "unreadable payload", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	_, err = b.billing.HandleWebhook(ctx, &billingv1.HandleWebhookRequest{Payload: body, Signature: r.Header.Get("Stripe-Signature")})
	switch status.Code(err) {
	case codes.OK:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"received":true}`)
	case codes.InvalidArgument, codes.FailedPrecondition:
		http.Error(w, "rejected: "+status.Convert(err).Message(), http.StatusBadRequest)
	default:
		b.log.Warn("webhook not applied", "code", status.Code(err).String(), "error", status.Convert(err).Message())
		http.Error(w, "try again", http.StatusServiceUnavailable)
	}
}
