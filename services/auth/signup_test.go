package auth_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/internal/statustest"
)

// TestSignup runs a sign-up from the invite to the first call: a code by
// mail, a token, a declined and then an accepted card, and completion with
// a namespace of three words, an account named by the email with roles
// admin and developer, the namespace's default rule and a subscription.
// The account then logs in by email alone, and the token is used up.
func TestSignup(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	const email = "ann@example.com"
	e.invite(t, email)
	code := e.sendCode(t, "ann@example.com", 1)
	token := e.verify(t, "Ann@Example.com", code)

	_, err := e.pay(t, token, local.CardDeclined)
	statustest.WantCode(t, "SubmitCard(declined)", err, codes.FailedPrecondition)
	status, err := e.signup.PaymentStatus(t.Context(), &authv1.PaymentStatusRequest{SignupToken: token})
	if err != nil || status.GetPaymentMethodReady() {
		t.Fatalf("PaymentStatus(declined) = %v, %v, want not ready", status, err)
	}
	_, err = e.complete(token)
	statustest.WantCode(t, "CompleteSignup(before a card)", err, codes.FailedPrecondition)
	session, err := e.pay(t, token, local.CardAccepted)
	if err != nil {
		t.Fatalf("SubmitCard(accepted) = %v", err)
	}
	status, err = e.signup.PaymentStatus(t.Context(), &authv1.PaymentStatusRequest{SignupToken: token})
	if err != nil || !status.GetPaymentMethodReady() || !strings.Contains(status.GetSubscribeUrl(), session) {
		t.Fatalf("PaymentStatus(accepted) = %v, %v, want ready, with the page of session %s", status, err, session)
	}

	_, err = e.signup.CompleteSignup(t.Context(), &authv1.CompleteSignupRequest{SignupToken: token, Secret: "password"})
	statustest.WantCode(t, "CompleteSignup(a common password)", err, codes.InvalidArgument)
	done, err := e.complete(token)
	if err != nil {
		t.Fatalf("CompleteSignup() = %v", err)
	}
	checkSignedUp(t, e, done, email)
	_, err = e.complete(token)
	statustest.WantCode(t, "CompleteSignup(token used)", err, codes.FailedPrecondition)
	_, err = e.signup.StartPayment(t.Context(), &authv1.StartPaymentRequest{SignupToken: token})
	statustest.WantCode(t, "StartPayment(token used)", err, codes.FailedPrecondition)
}

// checkSignedUp checks what a completed sign-up made.
func checkSignedUp(t *testing.T, e *signupEnv, done *authv1.CompleteSignupResponse, email string) {
	t.Helper()
	ns, acc := done.GetNamespace(), done.GetAccount()
	if err := platform.ValidNamespace(ns); err != nil || len(strings.Split(ns, "-")) != 3 {
		t.Errorf("namespace = %q, want three words matching %s", ns, platform.NamespacePattern)
	}
	if acc.GetName() != email || acc.GetNamespace() != ns || !slices.Equal(acc.GetRoles(), []string{"admin", "developer"}) {
		t.Errorf("account = %v, want %s in %s with roles admin, developer", acc, email, ns)
	}
	owner := identity.WithBearer(t.Context(), done.GetToken().GetAccessToken())
	rules, err := e.c.rules.List(owner, &authv1.RulesServiceListRequest{})
	if err != nil || !slices.ContainsFunc(rules.GetRules(), func(r *authv1.Rule) bool { return r.GetId() == "namespace-accounts" }) {
		t.Errorf("Rules.List(%s) = %v, want the namespace's default rule", ns, err)
	}
	billing := billingv1.NewBillingServiceClient(e.dialBilling(t, "auth"))
	sub, err := billing.GetSubscription(t.Context(), &billingv1.GetSubscriptionRequest{Namespace: ns})
	if err != nil || sub.GetSubscription().GetStatus() != billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE ||
		sub.GetSubscription().GetAccount() != acc.GetId() || sub.GetSubscription().GetEmail() != email {
		t.Errorf("GetSubscription(%s) = %v, %v, want active, for %s", ns, sub, err, acc.GetId())
	}
	byEmail := login(t, e.c, "", strings.ToUpper(email), signupSecret)
	if byEmail.account.GetNamespace() != ns {
		t.Errorf("Token(%s, no namespace) logged in to %q, want %q", email, byEmail.account.GetNamespace(), ns)
	}
	invites, err := e.c.invites.List(e.admin.ctx, &authv1.InviteServiceListRequest{})
	if i := slices.IndexFunc(invites.GetInvites(), func(inv *authv1.Invite) bool { return inv.GetEmail() == email }); err != nil || i < 0 ||
		invites.GetInvites()[i].GetNamespace() != ns || invites.GetInvites()[i].GetSignedUp() == nil {
		t.Errorf("Invites.List() = %v, %v, want %s signed up to %s", invites, err, email, ns)
	}
}

// TestSendRevealsNothing asks for codes for an invited email, one never
// invited and one that already has an account: every answer is the same,
// and only the invited one is mailed a code.
func TestSendRevealsNothing(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	e.invite(t, "member@example.com", "new@example.com")
	create(t, e.c, e.admin, "members", "member@example.com", "member-secret-1")
	var answers []time.Duration
	for _, email := range []string{"stranger@example.com", "member@example.com", "new@example.com"} {
		resp, err := e.signup.SendVerificationEmail(t.Context(), &authv1.SendVerificationEmailRequest{Email: email})
		if err != nil {
			t.Fatalf("SendVerificationEmail(%s) = %v, want the same answer for every email", email, err)
		}
		answers = append(answers, resp.GetExpiry().AsTime().Sub(e.clock.Now()).Round(time.Minute))
	}
	if answers[0] != time.Hour || answers[1] != time.Hour || answers[2] != time.Hour {
		t.Errorf("expiries = %v from now, want an hour for every email", answers)
	}
	e.nthCode(t, "new@example.com", 1)
	for _, m := range e.smtp.Messages() {
		if codePattern.MatchString(m.Text()) && !slices.Equal(m.To, []string{"new@example.com"}) {
			t.Errorf("a code went to %v, want codes mailed to new@example.com only", m.To)
		}
	}
	_, err := e.signup.Verify(t.Context(), &authv1.VerifyRequest{Email: "stranger@example.com", Code: "12345678"})
	statustest.WantCode(t, "Verify(never invited)", err, codes.Unauthenticated)
}

// TestCodeRefused checks that a code stops working after its tries or its
// hour, that a code cannot be used twice, and that a malformed one costs no
// try.
func TestCodeRefused(t *testing.T) {
	tests := []struct {
		name   string
		before func(e *signupEnv, email, code string)
	}{
		{"after five wrong tries", func(e *signupEnv, email, code string) {
			_, err := e.signup.Verify(t.Context(), &authv1.VerifyRequest{Email: email, Code: "1234"})
			statustest.WantCode(t, "Verify(malformed)", err, codes.InvalidArgument)
			for range 5 {
				_, err := e.signup.Verify(t.Context(), &authv1.VerifyRequest{Email: email, Code: wrong(code)})
				statustest.WantCode(t, "Verify(wrong code)", err, codes.Unauthenticated)
			}
		}},
		{"after an hour", func(e *signupEnv, _, _ string) { e.clock.Advance(time.Hour + time.Second) }},
		{"once used", func(e *signupEnv, email, code string) { e.verify(t, email, code) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSignupEnv(t, testConfig(t), &faults{})
			e.invite(t, "ann@example.com")
			code := e.sendCode(t, "ann@example.com", 1)
			tt.before(e, "ann@example.com", code)
			_, err := e.signup.Verify(t.Context(), &authv1.VerifyRequest{Email: "ann@example.com", Code: code})
			statustest.WantCode(t, "Verify(right code, "+tt.name+")", err, codes.Unauthenticated)
		})
	}
}

// wrong returns a code other than code.
func wrong(code string) string {
	if code == "00000000" {
		return "11111111"
	}
	return "00000000"
}

// TestSignupTokenRefused checks that a sign-up token stops working after
// its hour, and when a newer Verify replaces it.
func TestSignupTokenRefused(t *testing.T) {
	tests := []struct {
		name   string
		before func(e *signupEnv, token string)
	}{
		{"after an hour", func(e *signupEnv, _ string) { e.clock.Advance(time.Hour + time.Second) }},
		{"replaced", func(e *signupEnv, _ string) { e.verify(t, "ann@example.com", e.sendCode(t, "ann@example.com", 2)) }},
		{"unknown", func(e *signupEnv, _ string) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSignupEnv(t, testConfig(t), &faults{})
			e.invite(t, "ann@example.com")
			token := e.verify(t, "ann@example.com", e.sendCode(t, "ann@example.com", 1))
			tt.before(e, token)
			if tt.name == "unknown" {
				token = "not-a-token"
			}
			_, err := e.signup.StartPayment(t.Context(), &authv1.StartPaymentRequest{SignupToken: token})
			statustest.WantCode(t, "StartPayment("+tt.name+")", err, codes.Unauthenticated)
			_, err = e.complete(token)
			statustest.WantCode(t, "CompleteSignup("+tt.name+")", err, codes.Unauthenticated)
		})
	}
}

// TestSendLimits checks that one email gets at most three codes in ten
// minutes, and one client address asks for at most SendsPerAddress in
// that time, whatever the emails.
func TestSendLimits(t *testing.T) {
	cfg := testConfig(t)
	cfg.Signup.SendsPerAddress = 5
	e := newSignupEnv(t, cfg, &faults{})
	send := func(email string) error {
		_, err := e.signup.SendVerificationEmail(t.Context(), &authv1.SendVerificationEmailRequest{Email: email})
		return err
	}
	for i := range 3 {
		if err := send("ann@example.com"); err != nil {
			t.Fatalf("send %d to ann = %v", i+1, err)
		}
	}
	statustest.WantCode(t, "send 4 to ann", send("ann@example.com"), codes.ResourceExhausted)
	if err := send("bob@example.com"); err != nil {
		t.Fatalf("send 5 from this address, to bob = %v", err)
	}
	statustest.WantCode(t, "send 6 from this address", send("carol@example.com"), codes.ResourceExhausted)
	e.clock.Advance(10 * time.Minute)
	if err := send("ann@example.com"); err != nil {
		t.Errorf("send to ann ten minutes later = %v", err)
	}
}

// TestSignupResumes interrupts CompleteSignup between its steps, and then
// retries it: the retry finishes the sign-up, with exactly one
// subscription, one namespace and one account.
func TestSignupResumes(t *testing.T) {
	tests := []struct {
		name   string
		inject func(f *faults)
	}{
		{"between the subscription and the account", func(f *faults) {
			f.write = failWrite(func(r writeReq) bool { return r.table == "accounts" })
		}},
		{"billing's answer lost", func(f *faults) {
			f.subscribed = once(codes.Unavailable, func() bool { return true })
		}},
		{"between the account and its id", func(f *faults) {
			f.write = failWrite(func(r writeReq) bool { return r.table == "account_ids" && r.ifVersion0 })
		}},
		{"before the default rule", func(f *faults) {
			f.write = failWrite(func(r writeReq) bool { return r.table == "rules" })
		}},
		{"before the tokens", func(f *faults) { f.write = failWrite(func(r writeReq) bool { return r.table == "refresh" }) }},
		{"before the sign-up is marked complete", func(f *faults) {
			f.write = failWrite(func(r writeReq) bool { return r.table == "signups" && r.has("completed") })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &faults{}
			e := newSignupEnv(t, testConfig(t), f)
			token := e.readyToComplete(t, "ann@example.com")
			f.mu.Lock()
			tt.inject(f)
			f.mu.Unlock()
			if _, err := e.complete(token); err == nil {
				t.Fatal("CompleteSignup() with a failure injected = nil, want an error")
			}
			done, err := e.complete(token)
			if err != nil {
				t.Fatalf("CompleteSignup(retry) = %v", err)
			}
			checkSignedUp(t, e, done, "ann@example.com")
			checkOneOfEach(t, e, done.GetNamespace())
		})
	}
}

// checkOneOfEach checks that the platform holds one subscription, one
// namespace besides micro, and in it one account.
func checkOneOfEach(t *testing.T, e *signupEnv, ns string) {
	t.Helper()
	subs, spaces, accounts := e.count(t, "_billing", "subscriptions", ""), e.count(t, "_auth", "namespaces", ""), e.count(t, "_auth", "accounts", ns+"/")
	if subs != 1 || spaces != 2 || accounts != 1 {
		t.Errorf("the platform holds %d subscriptions, %d namespaces and %d accounts in %s; want 1, 2 (micro and %s) and 1",
			subs, spaces, accounts, ns, ns)
	}
}

// TestNothingReservedBeforePayment checks that CompleteSignup before the
// card reserves no namespace.
func TestNothingReservedBeforePayment(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	e.invite(t, "ann@example.com")
	token := e.verify(t, "ann@example.com", e.sendCode(t, "ann@example.com", 1))
	_, err := e.complete(token)
	statustest.WantCode(t, "CompleteSignup(no payment started)", err, codes.FailedPrecondition)
	if _, err := e.signup.StartPayment(t.Context(), &authv1.StartPaymentRequest{SignupToken: token}); err != nil {
		t.Fatal(err)
	}
	_, err = e.complete(token)
	statustest.WantCode(t, "CompleteSignup(no card yet)", err, codes.FailedPrecondition)
	if n := e.count(t, "_auth", "namespaces", ""); n != 1 {
		t.Errorf("the platform holds %d namespaces, want micro alone", n)
	}
}
