package billing_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/billingserver"
	"m3o.dev/services/billing/billingtest"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/coretest"
)

// publicURL is the proxy's HTTP address in these tests; nothing listens
// there, billing only builds links to it.
const publicURL = "https://m3o.test"

// testPrice is the developer plan's Stripe price in tests.
const testPrice = "price_m3o_developer"

// pollInterval keeps cross-replica watches quick; production uses the
// default.
const pollInterval = 50 * time.Millisecond

// provider is one payment provider under test, with how a browser would
// put a payment method in place for a session.
type provider struct {
	name     string
	new      func(t *testing.T) (billing.Provider, *billingtest.Recorder)
	complete func(t *testing.T, e *env, c *billingv1.Checkout)
}

// providers are the payment providers every flow test runs against: the
// local one, and stripe against stripe-mock behind a recorder.
var providers = []provider{
	{name: local.Name, new: newLocal, complete: payLocally},
	{name: stripe.Name, new: newStripe, complete: payOnStripe},
}

func newLocal(*testing.T) (billing.Provider, *billingtest.Recorder) { return local.New(), nil }

func newStripe(t *testing.T) (billing.Provider, *billingtest.Recorder) {
	rec := billingtest.NewRecorder(t, billingtest.StartStripeMock(t).URL)
	p, err := stripe.New(stripe.Options{Key: "sk_test_m3o", WebhookSecret: billingtest.WebhookSecret, Price: testPrice, URL: rec.URL})
	if err != nil {
		t.Fatal(err)
	}
	return p, rec
}

// payLocally submits the accepted test card, as the subscribe page does.
func payLocally(t *testing.T, e *env, c *billingv1.Checkout) {
	t.Helper()
	_, err := e.core(t, platform.Router).SubmitCard(t.Context(), &billingv1.SubmitCardRequest{PaymentSessionId: c.GetId(), Card: local.CardAccepted})
	if err != nil {
		t.Fatalf("SubmitCard(%s) = %v", local.CardAccepted, err)
	}
}

// payOnStripe delivers the signed checkout.session.completed that Stripe
// sends once Checkout has the card.
func payOnStripe(t *testing.T, e *env, c *billingv1.Checkout) {
	t.Helper()
	ev := billingtest.SignedEvent(t, billingtest.WebhookSecret, "checkout.session.completed", time.Now(),
		billingtest.CheckoutCompleted(c.GetId(), c.GetCustomer(), "seti_m3o_test", ""))
	if _, err := e.webhook(t, ev); err != nil {
		t.Fatalf("HandleWebhook(checkout.session.completed) = %v", err)
	}
}

// env is the store, auth and billing services on mTLS loopback, as in
// production, with the provider under test.
type env struct {
	*coretest.Platform
	provider billing.Provider
	recorder *billingtest.Recorder
	admin    context.Context
}

// newEnv starts the platform with a billing service over pv.
func newEnv(t *testing.T, pv provider) *env {
	t.Helper()
	p := coretest.New(t, platform.Store, platform.Auth, platform.Billing, "billing-2")
	p.ServeStore(t)
	p.ServeAuth(t)
	e := &env{Platform: p}
	e.provider, e.recorder = pv.new(t)
	e.serveBilling(t, platform.Billing)
	_, tok := p.Login(t, platform.Namespace, "admin", coretest.AdminPassword)
	e.admin = identity.WithBearer(t.Context(), tok)
	return e
}

// serveBilling runs a billing replica on the listener named lis.
func (e *env) serveBilling(t *testing.T, lis string) {
	t.Helper()
	proc := &corekit.Process{
		Name: platform.Billing, Bundle: mtlstest.Bundle(t, e.CA, platform.Namespace, platform.Billing),
		Listener: e.Listener(lis), Advertise: e.Addr(lis), Peers: e.Peers(),
		Logger: slog.New(slog.DiscardHandler), Out: io.Discard,
	}
	if err := proc.StartKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Close)
	cfg := billingserver.Config{Provider: e.provider, PublicURL: publicURL, PollInterval: pollInterval}
	coretest.Go(t, "billingserver.Run", func(ctx context.Context) error { return billingserver.Run(ctx, cfg, proc) })
	select {
	case <-proc.Ready():
	case <-time.After(time.Minute):
		t.Fatal("billing not serving")
	}
	// Until then billing answers every token Unavailable.
	coretest.Eventually(t, "billing loading auth's keys", proc.KeysReady)
}

// core is billing's client as the core service micro/svc, which calls on
// its own behalf with no token.
func (e *env) core(t *testing.T, svc string) billingv1.BillingServiceClient {
	return e.client(t, platform.Billing, platform.Namespace, svc)
}

// client connects to the billing replica on listener lis as ns/svc.
func (e *env) client(t *testing.T, lis, ns, svc string) billingv1.BillingServiceClient {
	return billingv1.NewBillingServiceClient(e.Dial(t, e.Addr(lis), ns, svc, coretest.Core(platform.Billing)))
}

// viaProxy is billing's client as the proxy relays a user's call: the
// proxy's certificate, the user's token.
func (e *env) viaProxy(t *testing.T) billingv1.BillingServiceClient {
	return e.core(t, platform.Proxy)
}

// user creates the account ns/name with roles and returns a context
// carrying its token.
func (e *env) user(t *testing.T, ns, name string, roles ...string) context.Context {
	t.Helper()
	const secret = "account-secret-123"
	_, accounts := e.Auth(t)
	_, err := accounts.Create(e.admin, &authv1.CreateRequest{
		Namespace: ns, Name: name, Secret: secret, Type: authv1.AccountType_ACCOUNT_TYPE_USER, Roles: roles,
	})
	if err != nil {
		t.Fatalf("Create(%s/%s) = %v", ns, name, err)
	}
	_, tok := e.Login(t, ns, name, secret)
	return identity.WithBearer(t.Context(), tok)
}

// webhook relays a Stripe event as the proxy's webhook route does.
func (e *env) webhook(t *testing.T, ev billingtest.Event) (bool, error) {
	resp, err := e.core(t, platform.Router).HandleWebhook(t.Context(), &billingv1.HandleWebhookRequest{Payload: ev.Payload, Signature: ev.Signature})
	return resp.GetApplied(), err
}

// signup runs the billing side of a sign-up for ns with pv: a checkout,
// the card, the subscription.
func (e *env) signup(t *testing.T, pv provider, ns string) *billingv1.Subscription {
	t.Helper()
	auth := e.core(t, platform.Auth)
	co, err := auth.StartCheckout(t.Context(), &billingv1.StartCheckoutRequest{Email: ns + "@example.com", IdempotencyKey: "signup-" + ns})
	if err != nil {
		t.Fatalf("StartCheckout(%s) = %v", ns, err)
	}
	pv.complete(t, e, co.GetCheckout())
	resp, err := auth.CreateSubscription(t.Context(), &billingv1.CreateSubscriptionRequest{
		Namespace: ns, Account: "acc-" + ns, Email: ns + "@example.com",
		PaymentSessionId: co.GetCheckout().GetId(), IdempotencyKey: "subscribe-" + ns,
	})
	if err != nil {
		t.Fatalf("CreateSubscription(%s) = %v", ns, err)
	}
	return resp.GetSubscription()
}

// setStatus sets ns's status as the admin.
func (e *env) setStatus(t *testing.T, ns string, st billingv1.SubscriptionStatus) *billingv1.Subscription {
	t.Helper()
	resp, err := e.viaProxy(t).AdminSetStatus(e.admin, &billingv1.AdminSetStatusRequest{Namespace: ns, Status: st})
	if err != nil {
		t.Fatalf("AdminSetStatus(%s, %v) = %v", ns, st, err)
	}
	return resp.GetSubscription()
}

// wantField fails the test unless err is InvalidArgument naming field.
func wantField(t *testing.T, call string, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Errorf("%s = %v, want InvalidArgument naming %q", call, err, field)
}

// reason returns the ErrorInfo reason of err, if any.
func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// hasPrefix reports whether s starts with prefix, for URLs.
func hasPrefix(s, prefix string) bool { return strings.HasPrefix(s, prefix) }
