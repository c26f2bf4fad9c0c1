package auth_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

// TestInviteAndSignupAccess is the access matrix of InviteService and of
// SignupService's public endpoints: only admins of micro manage invites,
// whoever else calls, and every caller, with or without an identity, gets
// the same answers from sign-up.
func TestInviteAndSignupAccess(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	create(t, e.c, e.admin, "brave-otter", "owner", "owner-secret", "admin")
	create(t, e.c, e.admin, "brave-otter", "dev", "dev-secret-1", "developer")
	create(t, e.c, e.admin, "micro", "operator", "operator-secret", "developer")
	callers := []struct {
		name string
		c    clients
		ctx  context.Context
		// invites is the code of every InviteService call.
		invites codes.Code
	}{
		{"admin of micro", e.c, e.admin.ctx, codes.OK},
		{"developer of micro", e.c, login(t, e.c, "micro", "operator", "operator-secret").ctx, codes.PermissionDenied},
		{"tenant admin", e.c, login(t, e.c, "brave-otter", "owner", "owner-secret").ctx, codes.PermissionDenied},
		{"tenant developer", e.c, login(t, e.c, "brave-otter", "dev", "dev-secret-1").ctx, codes.PermissionDenied},
		{"core service", e.dial(t, "micro", "runtime"), context.Background(), codes.PermissionDenied},
		{"anonymous", e.c, context.Background(), codes.Unauthenticated},
	}
	for _, who := range callers {
		t.Run(who.name, func(t *testing.T) {
			email := strings.ReplaceAll(who.name, " ", "-") + "@example.com"
			_, err := who.c.invites.Add(who.ctx, &authv1.InviteServiceAddRequest{Email: email})
			statustest.WantCode(t, "Invite.Add", err, who.invites)
			_, err = who.c.invites.List(who.ctx, &authv1.InviteServiceListRequest{})
			statustest.WantCode(t, "Invite.List", err, who.invites)
			_, err = who.c.invites.Remove(who.ctx, &authv1.InviteServiceRemoveRequest{Email: email})
			statustest.WantCode(t, "Invite.Remove", err, who.invites)
			checkSignupAnswers(t, e, who.ctx, email)
		})
	}
}

// checkSignupAnswers calls every SignupService endpoint in ctx and checks
// that each answers as it would anyone.
func checkSignupAnswers(t *testing.T, e *signupEnv, ctx context.Context, email string) {
	t.Helper()
	_, err := e.signup.SendVerificationEmail(ctx, &authv1.SendVerificationEmailRequest{Email: email})
	statustest.WantCode(t, "Signup.SendVerificationEmail", err, codes.OK)
	_, err = e.signup.Verify(ctx, &authv1.VerifyRequest{Email: email, Code: "12345678"})
	statustest.WantCode(t, "Signup.Verify", err, codes.Unauthenticated)
	_, err = e.signup.StartPayment(ctx, &authv1.StartPaymentRequest{SignupToken: "not-a-token"})
	statustest.WantCode(t, "Signup.StartPayment", err, codes.Unauthenticated)
	_, err = e.signup.PaymentStatus(ctx, &authv1.PaymentStatusRequest{SignupToken: "not-a-token"})
	statustest.WantCode(t, "Signup.PaymentStatus", err, codes.Unauthenticated)
	_, err = e.signup.CompleteSignup(ctx, &authv1.CompleteSignupRequest{SignupToken: "not-a-token", Secret: signupSecret})
	statustest.WantCode(t, "Signup.CompleteSignup", err, codes.Unauthenticated)
}

// TestLoginByEmail checks logging in without a namespace: an email of one
// account finds it in its namespace; an email admins gave accounts in two
// namespaces needs the namespace; nobody may take the email of an account
// that signed up.
func TestLoginByEmail(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	done, err := e.complete(e.readyToComplete(t, "ann@example.com"))
	if err != nil {
		t.Fatalf("CompleteSignup() = %v", err)
	}
	_, err = e.c.accounts.Create(e.admin.ctx, &authv1.CreateRequest{Namespace: "calm-lake", Name: "ANN@example.com", Secret: "other-secret-1"})
	statustest.WantCode(t, "Create(the email of a signed-up account)", err, codes.AlreadyExists)
	owner := login(t, e.c, done.GetNamespace(), "ann@example.com", signupSecret)
	_, err = e.c.accounts.Create(owner.ctx, &authv1.CreateRequest{Name: "bob@example.com", Secret: "bob-secret-1"})
	if err != nil {
		t.Fatalf("Create(bob) as the new namespace's admin = %v", err)
	}
	create(t, e.c, e.admin, "calm-lake", "bob@example.com", "bob-secret-2")

	_, err = e.c.auth.Token(t.Context(), &authv1.TokenRequest{Id: "bob@example.com", Secret: "bob-secret-1"})
	statustest.WantCode(t, "Token(an email of two namespaces, none named)", err, codes.FailedPrecondition)
	if got := login(t, e.c, "calm-lake", "bob@example.com", "bob-secret-2"); got.account.GetNamespace() != "calm-lake" {
		t.Errorf("Token(bob, calm-lake) logged in to %q", got.account.GetNamespace())
	}
	if _, err := e.c.accounts.Delete(e.admin.ctx, &authv1.DeleteRequest{Namespace: "calm-lake", Id: "bob@example.com"}); err != nil {
		t.Fatalf("Delete(calm-lake/bob) = %v", err)
	}
	if got := login(t, e.c, "", "bob@example.com", "bob-secret-1"); got.account.GetNamespace() != done.GetNamespace() {
		t.Errorf("Token(bob, no namespace) after the other was deleted logged in to %q, want %q", got.account.GetNamespace(), done.GetNamespace())
	}
	_, err = e.c.auth.Token(t.Context(), &authv1.TokenRequest{Id: "ann@example.com", Secret: "wrong-secret"})
	statustest.WantCode(t, "Token(ann, wrong secret)", err, codes.Unauthenticated)
}

// TestSignupResumesWithNewCode loses the sign-up token after the payment:
// a new code and token resume the same sign-up, the old token stops
// working, and the namespace is subscribed once.
func TestSignupResumesWithNewCode(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	lost := e.readyToComplete(t, "ann@example.com")
	token := e.verify(t, "ann@example.com", e.sendCode(t, "ann@example.com", 2))
	_, err := e.complete(lost)
	statustest.WantCode(t, "CompleteSignup(replaced token)", err, codes.Unauthenticated)
	st, err := e.signup.PaymentStatus(t.Context(), &authv1.PaymentStatusRequest{SignupToken: token})
	if err != nil || !st.GetPaymentMethodReady() {
		t.Fatalf("PaymentStatus(new token) = %v, %v, want the card of the first token's payment", st, err)
	}
	done, err := e.complete(token)
	if err != nil {
		t.Fatalf("CompleteSignup(new token) = %v", err)
	}
	checkOneOfEach(t, e, done.GetNamespace())
	_, err = e.signup.SendVerificationEmail(t.Context(), &authv1.SendVerificationEmailRequest{Email: "ann@example.com"})
	statustest.WantCode(t, "SendVerificationEmail(signed up)", err, codes.OK)
	_, err = e.signup.Verify(t.Context(), &authv1.VerifyRequest{Email: "ann@example.com", Code: e.nthCode(t, "ann@example.com", 2)})
	statustest.WantCode(t, "Verify(a used code, after sign-up)", err, codes.Unauthenticated)
}

// TestCodesStayOutOfLogs runs a sign-up with every log line kept: no
// code, sign-up token, secret or access token is in them.
func TestCodesStayOutOfLogs(t *testing.T) {
	logs := &lockedBuffer{}
	e := newSignupEnv(t, testConfig(t), &faults{}, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	e.invite(t, "ann@example.com")
	code := e.sendCode(t, "ann@example.com", 1)
	token := e.verify(t, "ann@example.com", code)
	if _, err := e.pay(t, token, "4242424242424242"); err != nil {
		t.Fatal(err)
	}
	done, err := e.complete(token)
	if err != nil {
		t.Fatalf("CompleteSignup() = %v", err)
	}
	_, err = e.signup.Verify(t.Context(), &authv1.VerifyRequest{Email: "ann@example.com", Code: wrong(code)})
	statustest.WantCode(t, "Verify(after sign-up)", err, codes.Unauthenticated)
	text := logs.String()
	if !strings.Contains(text, "sign-up completed") {
		t.Fatalf("logs = %q, want the sign-up's lines", text)
	}
	for what, secret := range map[string]string{"code": code, "sign-up token": token, "secret": signupSecret, "access token": done.GetToken().GetAccessToken()} {
		if strings.Contains(text, secret) {
			t.Errorf("the logs hold the %s", what)
		}
	}
}

// lockedBuffer is a buffer that log lines may be written to from several
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
