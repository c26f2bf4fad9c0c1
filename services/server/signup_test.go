package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/identity"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/billingtest"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/server"
	"m3o.dev/services/smtptest"
	"m3o.dev/services/store"
	"m3o.dev/services/store/pebble"
)

// testPrice is the developer plan's Stripe price in these tests.
const testPrice = "price_m3o_developer"

// TestSignupWithStripe signs up through the public port of a platform
// billing with the stripe provider against stripe-mock: the code comes
// through a real SMTP server, Chromium follows the subscribe page to the
// Checkout URL, and a signed checkout.session.completed event posted to
// the proxy's /webhooks/stripe puts the card in place, as Stripe would.
// The recording proxy in front of stripe-mock shows what was asked of
// Stripe, and the subscription is counted in _billing.
func TestSignupWithStripe(t *testing.T) {
	rec := billingtest.NewRecorder(t, billingtest.StartStripeMock(t).URL)
	mailbox := smtptest.Start(t)
	dir := t.TempDir()
	cfg := config(dir)
	cfg.Billing = server.Billing{Provider: server.BillingStripe, Stripe: stripeOptions(rec.URL)}
	cfg.Mail = smtpMail(t, mailbox)
	r := start(t, cfg)
	conn := r.client(t)
	const email = "ann@example.com"
	invite(t, conn, r.login(t, conn), email)

	signup := authv1.NewSignupServiceClient(conn)
	token := verifyByMail(t, signup, mailbox, email)
	page, err := signup.StartPayment(t.Context(), &authv1.StartPaymentRequest{SignupToken: token})
	if err != nil {
		t.Fatalf("StartPayment() = %v", err)
	}
	session := checkStripeCheckout(t, rec, "http://"+r.HTTPAddress(), page.GetSubscribeUrl(), email)
	followToCheckout(t, rec, page.GetSubscribeUrl())
	if st, err := signup.PaymentStatus(t.Context(), &authv1.PaymentStatusRequest{SignupToken: token}); err != nil || st.GetPaymentMethodReady() {
		t.Fatalf("PaymentStatus(before Stripe's event) = %v, %v, want not ready", st, err)
	}
	postCheckoutCompleted(t, r.HTTPAddress(), session)
	if st, err := signup.PaymentStatus(t.Context(), &authv1.PaymentStatusRequest{SignupToken: token}); err != nil || !st.GetPaymentMethodReady() {
		t.Fatalf("PaymentStatus(after Stripe's event) = %v, %v, want ready", st, err)
	}
	done, err := signup.CompleteSignup(t.Context(), &authv1.CompleteSignupRequest{SignupToken: token, Secret: "ann-secret-42"})
	if err != nil {
		t.Fatalf("CompleteSignup() = %v", err)
	}
	checkStripeSubscription(t, rec, done.GetNamespace())
	checkLoginByEmail(t, conn, email, "ann-secret-42", done.GetNamespace())
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n := countRecords(t, dir, "_billing", "subscriptions"); n != 1 {
		t.Errorf("_billing holds %d subscriptions, want 1", n)
	}
}

// stripeOptions are the stripe provider's settings against the recorder
// at apiURL.
func stripeOptions(apiURL string) stripe.Options {
	return stripe.Options{Key: "sk_test_m3o", WebhookSecret: billingtest.WebhookSecret, Price: testPrice, URL: apiURL}
}

// smtpMail is mail through mailbox, trusting its certificate from a file.
func smtpMail(t *testing.T, mailbox *smtptest.Server) server.Mail {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, mailbox.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return server.Mail{
		SMTPAddress: mailbox.Addr, From: "signup@m3o.test",
		Username: smtptest.Username, Password: smtptest.Password, CAFile: caFile,
	}
}

// invite puts email on the allowlist as the admin.
func invite(t *testing.T, conn *grpc.ClientConn, admin context.Context, email string) {
	t.Helper()
	if _, err := authv1.NewInviteServiceClient(conn).Add(admin, &authv1.InviteServiceAddRequest{Email: email}); err != nil {
		t.Fatalf("Invite.Add(%s) = %v", email, err)
	}
}

// codePattern finds the code in a sign-up email.
var codePattern = regexp.MustCompile(`sign-up code is (\d{8})`)

// verifyByMail asks for email's code, reads it from the mailbox, and
// trades it for a sign-up token.
func verifyByMail(t *testing.T, signup authv1.SignupServiceClient, mailbox *smtptest.Server, email string) string {
	t.Helper()
	if _, err := signup.SendVerificationEmail(t.Context(), &authv1.SendVerificationEmailRequest{Email: email}); err != nil {
		t.Fatalf("SendVerificationEmail() = %v", err)
	}
	_, m := mailbox.WaitForMatch(t, email, codePattern)
	resp, err := signup.Verify(t.Context(), &authv1.VerifyRequest{Email: email, Code: m[1]})
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	return resp.GetSignupToken()
}

// checkStripeCheckout checks what the payment session asked of Stripe: a
// customer with the email, and a Checkout Session returning to the
// platform's pages of the session. It returns the session's id.
func checkStripeCheckout(t *testing.T, rec *billingtest.Recorder, public, page, email string) string {
	t.Helper()
	u, err := url.Parse(page)
	session := u.Query().Get(billing.SessionParam)
	if err != nil || !strings.HasPrefix(page, public+billing.PagePath+"?") || session == "" {
		t.Fatalf("subscribe URL = %q, want %s%s?session=…", page, public, billing.PagePath)
	}
	customers := rec.Find(http.MethodPost, "/v1/customers")
	if len(customers) != 1 || customers[0].Form.Get("email") != email {
		t.Errorf("customers created: %+v, want one for %s", customers, email)
	}
	sessions := rec.Find(http.MethodPost, "/v1/checkout/sessions")
	done := public + billing.DonePath + "?" + billing.SessionParam + "=" + session
	if len(sessions) != 1 || sessions[0].Form.Get("success_url") != done ||
		sessions[0].Form.Get("cancel_url") != page || sessions[0].Form.Get("client_reference_id") != session {
		t.Errorf("checkout sessions created: %+v, want one returning to %s and %s", sessions, done, page)
	}
	return session
}

// followToCheckout opens the subscribe page in Chromium, which must send
// the browser on to the Checkout URL Stripe gave (the recorder's stand-in
// for it, so the browser stays on this machine).
func followToCheckout(t *testing.T, rec *billingtest.Recorder, page string) {
	t.Helper()
	browser := billingtest.NewBrowser(t)
	browser.Open(t, page)
	landed := browser.WaitForURL(t, rec.URL+billingtest.HostedPath+"checkout.stripe.com/")
	if landed.Title != billingtest.HostedTitle {
		t.Errorf("the browser landed on %q titled %q, want Stripe Checkout", landed.URL, landed.Title)
	}
}

// postCheckoutCompleted posts Stripe's signed checkout.session.completed
// for the payment session to the proxy's webhook route, as Stripe does
// once Checkout has the card.
func postCheckoutCompleted(t *testing.T, httpAddr, session string) {
	t.Helper()
	ev := billingtest.SignedEvent(t, billingtest.WebhookSecret, "checkout.session.completed", time.Now(),
		billingtest.CheckoutCompleted(session, "cus_m3o_test", "seti_m3o_test", ""))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+httpAddr+"/webhooks/stripe", bytes.NewReader(ev.Payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Stripe-Signature", ev.Signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /webhooks/stripe: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /webhooks/stripe = %d %s, want 200", resp.StatusCode, body)
	}
}

// checkStripeSubscription checks that one subscription was asked of
// Stripe, for the developer plan's price and the namespace.
func checkStripeSubscription(t *testing.T, rec *billingtest.Recorder, ns string) {
	t.Helper()
	subs := rec.Find(http.MethodPost, "/v1/subscriptions")
	if len(subs) != 1 || subs[0].Form.Get("items[0][price]") != testPrice || subs[0].Form.Get("metadata[m3o_namespace]") != ns {
		t.Errorf("subscriptions created: %+v, want one of %s for %s", subs, testPrice, ns)
	}
}

// checkLoginByEmail logs in by email with no namespace, and reads the
// namespace's subscription as its account.
func checkLoginByEmail(t *testing.T, conn *grpc.ClientConn, email, secret, ns string) {
	t.Helper()
	resp, err := authv1.NewAuthServiceClient(conn).Token(t.Context(), &authv1.TokenRequest{Id: email, Secret: secret})
	if err != nil || resp.GetAccount().GetNamespace() != ns {
		t.Fatalf("Token(%s, no namespace) = %v, %v, want an account of %s", email, resp.GetAccount(), err, ns)
	}
	owner := identity.WithBearer(t.Context(), resp.GetToken().GetAccessToken())
	sub, err := billingv1.NewBillingServiceClient(conn).GetSubscription(owner, &billingv1.GetSubscriptionRequest{})
	if err != nil || sub.GetSubscription().GetNamespace() != ns || sub.GetSubscription().GetProvider() != "stripe" {
		t.Errorf("GetSubscription() as the new account = %v, %v, want %s's, billed by stripe", sub, err, ns)
	}
}

// countRecords counts the records of a table in a stopped server's store.
func countRecords(t *testing.T, dir, database, table string) int {
	t.Helper()
	b, err := pebble.Open(filepath.Join(dir, "store"), pebble.Options{})
	if err != nil {
		t.Fatalf("open the stopped server's store: %v", err)
	}
	defer b.Close()
	page, err := b.Scan(t.Context(), store.Table{Database: database, Name: table}, store.Query{Limit: 1000})
	if err != nil {
		t.Fatalf("Scan(%s/%s) = %v", database, table, err)
	}
	return len(page.Records)
}

// TestOutboxNotice starts a platform without an SMTP server: it says at
// start that sign-up mail goes to the outbox in its data dir, and a code
// asked for lands there.
func TestOutboxNotice(t *testing.T) {
	dir := t.TempDir()
	var out lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	p, err := server.Start(ctx, config(dir), slog.New(slog.DiscardHandler), &out)
	if err != nil {
		cancel()
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { cancel(); p.Wait() })
	outbox := filepath.Join(dir, "outbox")
	if !strings.Contains(out.String(), "mail is written to "+outbox) {
		t.Errorf("micro server printed %q at start, want it to name the outbox %s", out.String(), outbox)
	}
	r := &running{Platform: p}
	conn := r.client(t)
	invite(t, conn, r.login(t, conn), "ann@example.com")
	_, err = authv1.NewSignupServiceClient(conn).SendVerificationEmail(t.Context(), &authv1.SendVerificationEmailRequest{Email: "ann@example.com"})
	if err != nil {
		t.Fatalf("SendVerificationEmail() = %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		files, _ := filepath.Glob(filepath.Join(outbox, "*-ann@example.com.eml"))
		if slices.ContainsFunc(files, holdsCode) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox holds %v a minute after the code was asked for, want ann's invitation and code", files)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// holdsCode reports whether the mail in file carries a sign-up code.
func holdsCode(file string) bool {
	data, err := os.ReadFile(file)
	return err == nil && codePattern.Match(data)
}
