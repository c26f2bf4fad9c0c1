package auth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/internal/mail"
	"m3o.dev/services/smtptest"
	"m3o.dev/services/store"
)

// publicURL is where the subscribe page would be; nothing listens there.
const publicURL = "https://m3o.test"

// signupSecret is the new account's password in sign-up tests.
const signupSecret = "signup-secret-42"

// signupEnv is the env with what sign-up needs: a billing service on the
// same store with the local provider, and a real SMTP server that auth
// mails codes through.
type signupEnv struct {
	*env
	smtp        *smtptest.Server
	billingAddr string
	admin       user
	c           clients
	signup      authv1.SignupServiceClient
}

// faults lets a test make auth's store writes and billing calls fail.
type faults struct {
	mu sync.Mutex
	// write fails a write to the store when it returns an error.
	write func(*storev1.WriteRequest) error
	// subscribed replaces the answer to a CreateSubscription that went
	// through when it returns an error, as if the answer were lost.
	subscribed func() error
}

func (f *faults) failWrite(req *storev1.WriteRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.write == nil {
		return nil
	}
	return f.write(req)
}

func (f *faults) loseSubscription() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subscribed == nil {
		return nil
	}
	return f.subscribed()
}

// once returns a fault that fails the first call for which match holds
// with code, and nothing after.
func once(code codes.Code, match func() bool) func() error {
	done := false
	return func() error {
		if done || !match() {
			return nil
		}
		done = true
		return status.Error(code, "injected failure")
	}
}

// faultyStore is auth's store client with faults.
type faultyStore struct {
	storev1.StoreServiceClient
	f *faults
}

// Write implements auth.Store.
func (s faultyStore) Write(ctx context.Context, in *storev1.WriteRequest, opts ...grpc.CallOption) (*storev1.WriteResponse, error) {
	if err := s.f.failWrite(in); err != nil {
		return nil, err
	}
	return s.StoreServiceClient.Write(ctx, in, opts...)
}

// faultyBilling is auth's billing client with faults.
type faultyBilling struct {
	billingv1.BillingServiceClient
	f *faults
}

// CreateSubscription implements auth.Billing.
func (b faultyBilling) CreateSubscription(ctx context.Context, in *billingv1.CreateSubscriptionRequest, opts ...grpc.CallOption) (*billingv1.CreateSubscriptionResponse, error) {
	resp, err := b.BillingServiceClient.CreateSubscription(ctx, in, opts...)
	if err == nil {
		if lost := b.f.loseSubscription(); lost != nil {
			return nil, lost
		}
	}
	return resp, err
}

// newSignupEnv starts store, billing and auth, with auth's store and
// billing clients going through f, and logs the admin in. Auth logs to
// logger when one is given.
func newSignupEnv(t *testing.T, cfg auth.Config, f *faults, logger ...*slog.Logger) *signupEnv {
	t.Helper()
	e := &signupEnv{env: &env{ca: mtlstest.NewCA(t), cfg: cfg, clock: newClock()}, smtp: smtptest.Start(t)}
	e.storeAddr = e.serveStore(t)
	e.billingAddr = e.serveBilling(t)
	sender, err := mail.NewSMTP(mail.SMTPConfig{
		Address: e.smtp.Addr, From: "signup@m3o.test", Username: smtptest.Username, Password: smtptest.Password, TLS: e.smtp.ClientTLS,
	})
	if err != nil {
		t.Fatal(err)
	}
	bill := billingv1.NewBillingServiceClient(e.dialBilling(t, "auth"))
	deps := auth.Deps{
		Store: faultyStore{StoreServiceClient: e.storeClient(t), f: f}, Billing: faultyBilling{BillingServiceClient: bill, f: f}, Mail: sender,
	}
	if len(logger) > 0 {
		deps.Logger = logger[0]
	}
	e.startWith(t, deps)
	e.c = e.dial(t, "micro", "proxy")
	e.signup = authv1.NewSignupServiceClient(e.conn(t, "micro", "proxy"))
	e.admin = login(t, e.c, "", "admin", adminPassword)
	return e
}

// serveBilling starts the billing service over the env's store, as
// micro/billing, with the local provider; callers are known by mTLS.
func (e *signupEnv) serveBilling(t *testing.T) string {
	t.Helper()
	conn, err := grpcclient.Dial(e.storeAddr, mtlstest.Bundle(t, e.ca, "micro", "billing"), mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	svc, err := billing.New(billing.Options{
		Store: storev1.NewStoreServiceClient(conn), Provider: local.New(), PublicURL: publicURL, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	a := identity.NewAuthenticator(nil)
	srv := grpcserver.New(grpcserver.Options{
		TLS:   mtlstest.Bundle(t, e.ca, "micro", "billing").ServerConfig(),
		Unary: []grpc.UnaryServerInterceptor{a.UnaryInterceptor()},
	})
	svc.Register(srv.GRPC())
	return serve(t, srv)
}

// dialBilling connects to billing as the core service micro/svc.
func (e *signupEnv) dialBilling(t *testing.T, svc string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(e.billingAddr, mtlstest.Bundle(t, e.ca, "micro", svc), mtls.Identity{Namespace: "micro", Service: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// invite puts emails on the allowlist as the admin.
func (e *signupEnv) invite(t *testing.T, emails ...string) {
	t.Helper()
	for _, email := range emails {
		if _, err := e.c.invites.Add(e.admin.ctx, &authv1.InviteServiceAddRequest{Email: email}); err != nil {
			t.Fatalf("Invite.Add(%s) = %v", email, err)
		}
	}
}

// codePattern finds the code in a sign-up email.
var codePattern = regexp.MustCompile(`sign-up code is (\d{8})`)

// sendCode asks for a code for email and returns the one mailed, the
// n-th sign-up code to it (from 1).
func (e *signupEnv) sendCode(t *testing.T, email string, n int) string {
	t.Helper()
	if _, err := e.signup.SendVerificationEmail(t.Context(), &authv1.SendVerificationEmailRequest{Email: email}); err != nil {
		t.Fatalf("SendVerificationEmail(%s) = %v", email, err)
	}
	return e.nthCode(t, email, n)
}

// nthCode waits for the n-th sign-up code mailed to email (from 1) and
// returns it.
func (e *signupEnv) nthCode(t *testing.T, email string, n int) string {
	t.Helper()
	return e.nthMailedCode(t, email, codePattern, n)
}

// nthMailedCode waits until email has been mailed n codes that pattern
// finds, among the other mail it gets, and returns the n-th (from 1).
func (e *signupEnv) nthMailedCode(t *testing.T, email string, pattern *regexp.Regexp, n int) string {
	t.Helper()
	var codes []string
	eventually(t, fmt.Sprintf("%d messages to %s with a code like %s", n, email, pattern), func() bool {
		codes = codes[:0]
		for _, m := range e.messagesTo(email) {
			if found := pattern.FindStringSubmatch(m.Text()); found != nil {
				codes = append(codes, found[1])
			}
		}
		return len(codes) >= n
	})
	return codes[n-1]
}

// waitForMessages waits until n messages to email have arrived.
func (e *signupEnv) waitForMessages(t *testing.T, email string, n int) []smtptest.Message {
	t.Helper()
	var msgs []smtptest.Message
	eventually(t, fmt.Sprintf("%d messages to %s", n, email), func() bool {
		msgs = e.messagesTo(email)
		return len(msgs) >= n
	})
	return msgs
}

// eventually polls cond until it holds, and fails the test after a
// minute, long past any delivery on this machine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still no %s after a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// messagesTo returns the messages to email so far.
func (e *signupEnv) messagesTo(email string) []smtptest.Message {
	var out []smtptest.Message
	for _, m := range e.smtp.Messages() {
		for _, to := range m.To {
			if to == email {
				out = append(out, m)
			}
		}
	}
	return out
}

// verify trades email's code for a sign-up token.
func (e *signupEnv) verify(t *testing.T, email, code string) string {
	t.Helper()
	resp, err := e.signup.Verify(t.Context(), &authv1.VerifyRequest{Email: email, Code: code})
	if err != nil {
		t.Fatalf("Verify(%s) = %v", email, err)
	}
	return resp.GetSignupToken()
}

// pay starts the payment of token and puts card on its subscribe page,
// as the page does through the proxy (micro/router); it returns the
// session id the page's URL carries.
func (e *signupEnv) pay(t *testing.T, token, card string) (string, error) {
	t.Helper()
	resp, err := e.signup.StartPayment(t.Context(), &authv1.StartPaymentRequest{SignupToken: token})
	if err != nil {
		t.Fatalf("StartPayment() = %v", err)
	}
	u, err := url.Parse(resp.GetSubscribeUrl())
	if err != nil {
		t.Fatalf("subscribe URL %q: %v", resp.GetSubscribeUrl(), err)
	}
	session := u.Query().Get(billing.SessionParam)
	router := billingv1.NewBillingServiceClient(e.dialBilling(t, "router"))
	_, err = router.SubmitCard(t.Context(), &billingv1.SubmitCardRequest{PaymentSessionId: session, Card: card})
	return session, err
}

// readyToComplete runs a sign-up of email up to CompleteSignup: invite,
// code, token, card. It returns the token.
func (e *signupEnv) readyToComplete(t *testing.T, email string) string {
	t.Helper()
	e.invite(t, email)
	token := e.verify(t, email, e.sendCode(t, email, 1))
	if _, err := e.pay(t, token, local.CardAccepted); err != nil {
		t.Fatalf("SubmitCard(accepted) = %v", err)
	}
	return token
}

// complete finishes the sign-up of token with the test secret.
func (e *signupEnv) complete(token string) (*authv1.CompleteSignupResponse, error) {
	return e.signup.CompleteSignup(context.Background(), &authv1.CompleteSignupRequest{SignupToken: token, Secret: signupSecret})
}

// count returns how many records table of database holds whose key
// starts with prefix, read from the store's backend directly.
func (e *signupEnv) count(t *testing.T, database, table, prefix string) int {
	t.Helper()
	page, err := e.backend.Scan(t.Context(), store.Table{Database: database, Name: table}, store.Query{Prefix: prefix, Limit: 1000})
	if err != nil {
		t.Fatalf("Scan(%s/%s) = %v", database, table, err)
	}
	return len(page.Records)
}

// writeReq is what a write fault looks at.
type writeReq struct {
	table      string
	ifVersion0 bool
	value      string
}

// has reports whether the written record has the JSON field name.
func (r writeReq) has(name string) bool { return strings.Contains(r.value, `"`+name+`"`) }

// failWrite returns a write fault that fails the first write to _auth
// that match picks, with Unavailable, and nothing after.
func failWrite(match func(writeReq) bool) func(*storev1.WriteRequest) error {
	done := false
	return func(req *storev1.WriteRequest) error {
		r := writeReq{table: req.GetTable(), ifVersion0: req.IfVersion != nil && req.GetIfVersion() == 0, value: string(req.GetRecord().GetValue())}
		if done || req.GetDatabase() != "_auth" || !match(r) {
			return nil
		}
		done = true
		return status.Error(codes.Unavailable, "injected failure")
	}
}
