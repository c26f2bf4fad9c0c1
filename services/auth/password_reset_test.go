package auth_test

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

// resetCodePattern finds the code in a password reset email.
var resetCodePattern = regexp.MustCompile(`password reset code is (\d{8})`)

// resetCode asks for a reset code for email (in ns, when given) and
// returns the one mailed, the n-th reset code to it (from 1).
func (e *signupEnv) resetCode(t *testing.T, email, ns string, n int) string {
	t.Helper()
	if _, err := e.c.auth.SendPasswordReset(t.Context(), &authv1.SendPasswordResetRequest{Email: email, Namespace: ns}); err != nil {
		t.Fatalf("SendPasswordReset(%s) = %v", email, err)
	}
	return e.nthMailedCode(t, email, resetCodePattern, n)
}

// reset resets email's password with code to secret.
func (e *signupEnv) reset(t *testing.T, email, code, secret string) (*authv1.ResetPasswordResponse, error) {
	return e.c.auth.ResetPassword(t.Context(), &authv1.ResetPasswordRequest{Email: email, Code: code, NewSecret: secret})
}

// TestPasswordReset resets a forgotten password by mailed code: the new
// password logs in, the old one and the refresh tokens of earlier logins
// stop working, and the code works once.
func TestPasswordReset(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	create(t, e.c, e.admin, "brave-otter", "Ann@example.com", "ann-secret-1", "developer")
	before := login(t, e.c, "brave-otter", "Ann@example.com", "ann-secret-1")

	code := e.resetCode(t, "ann@example.com", "", 1)
	_, err := e.reset(t, "ann@example.com", wrong(code), "ann-secret-2")
	statustest.WantCode(t, "ResetPassword(wrong code)", err, codes.Unauthenticated)
	resp, err := e.reset(t, "ANN@example.com", code, "ann-secret-2")
	if err != nil || resp.GetAccount().GetNamespace() != "brave-otter" || resp.GetToken().GetRefreshToken() == "" {
		t.Fatalf("ResetPassword() = %v, %v, want a login to ann's account", resp, err)
	}
	_, err = e.reset(t, "ann@example.com", code, "ann-secret-3")
	statustest.WantCode(t, "ResetPassword(used code)", err, codes.Unauthenticated)

	_, err = e.c.auth.Token(t.Context(), &authv1.TokenRequest{RefreshToken: before.token.GetRefreshToken()})
	statustest.WantCode(t, "Token(refresh token from before the reset)", err, codes.Unauthenticated)
	_, err = e.c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: "brave-otter", Id: "Ann@example.com", Secret: "ann-secret-1"})
	statustest.WantCode(t, "Token(old password)", err, codes.Unauthenticated)
	login(t, e.c, "brave-otter", "Ann@example.com", "ann-secret-2")
	if _, err := e.c.auth.Token(t.Context(), &authv1.TokenRequest{RefreshToken: resp.GetToken().GetRefreshToken()}); err != nil {
		t.Errorf("Token(the reset's own refresh token) = %v, want new tokens", err)
	}
}

// TestPasswordResetRevealsNothing asks for reset codes for emails that
// name no account, a disabled one, and accounts in two namespaces: every
// answer is the same and none gets mail, until the namespace is given.
func TestPasswordResetRevealsNothing(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	create(t, e.c, e.admin, "ns-one", "gone@example.com", "gone-secret-1")
	if _, err := e.c.accounts.Disable(e.admin.ctx, &authv1.DisableRequest{Namespace: "ns-one", Id: "gone@example.com"}); err != nil {
		t.Fatal(err)
	}
	create(t, e.c, e.admin, "ns-one", "twice@example.com", "twice-secret-1")
	create(t, e.c, e.admin, "ns-two", "twice@example.com", "twice-secret-2")
	for _, email := range []string{"stranger@example.com", "gone@example.com", "twice@example.com"} {
		resp, err := e.c.auth.SendPasswordReset(t.Context(), &authv1.SendPasswordResetRequest{Email: email})
		if err != nil || resp.GetExpiry().AsTime().Sub(e.clock.Now()).Round(time.Minute) != time.Hour {
			t.Errorf("SendPasswordReset(%s) = %v, %v, want a code's hour like every email's", email, resp, err)
		}
	}
	code := e.resetCode(t, "twice@example.com", "ns-two", 1)
	for _, m := range e.smtp.Messages() {
		if !slices.Equal(m.To, []string{"twice@example.com"}) {
			t.Errorf("a message went to %v, want mail to twice@example.com only", m.To)
		}
	}
	if n := len(e.messagesTo("twice@example.com")); n != 1 {
		t.Errorf("twice@example.com got %d messages, want 1: without a namespace its email names two accounts", n)
	}
	_, err := e.c.auth.ResetPassword(t.Context(), &authv1.ResetPasswordRequest{Email: "twice@example.com", Namespace: "ns-one", Code: code, NewSecret: "twice-secret-3"})
	statustest.WantCode(t, "ResetPassword(the other namespace's account)", err, codes.Unauthenticated)
	if _, err := e.c.auth.ResetPassword(t.Context(), &authv1.ResetPasswordRequest{Email: "twice@example.com", Namespace: "ns-two", Code: code, NewSecret: "twice-secret-3"}); err != nil {
		t.Fatalf("ResetPassword(ns-two) = %v", err)
	}
	login(t, e.c, "ns-one", "twice@example.com", "twice-secret-1")
	login(t, e.c, "ns-two", "twice@example.com", "twice-secret-3")
}

// TestPasswordResetCodeRefused checks that a reset code stops working after
// its tries or its hour, and that bad input costs no try.
func TestPasswordResetCodeRefused(t *testing.T) {
	tests := []struct {
		name   string
		before func(e *signupEnv, code string)
	}{
		{"after five wrong tries", func(e *signupEnv, code string) {
			_, err := e.reset(t, "ann@example.com", "1234", "ann-secret-2")
			statustest.WantCode(t, "ResetPassword(malformed code)", err, codes.InvalidArgument)
			_, err = e.reset(t, "ann@example.com", code, "short")
			statustest.WantCode(t, "ResetPassword(short password)", err, codes.InvalidArgument)
			for range 5 {
				_, err := e.reset(t, "ann@example.com", wrong(code), "ann-secret-2")
				statustest.WantCode(t, "ResetPassword(wrong code)", err, codes.Unauthenticated)
			}
		}},
		{"after an hour", func(e *signupEnv, _ string) { e.clock.Advance(time.Hour + time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSignupEnv(t, testConfig(t), &faults{})
			create(t, e.c, e.admin, "brave-otter", "ann@example.com", "ann-secret-1")
			code := e.resetCode(t, "ann@example.com", "", 1)
			tt.before(e, code)
			_, err := e.reset(t, "ann@example.com", code, "ann-secret-2")
			statustest.WantCode(t, "ResetPassword(right code, "+tt.name+")", err, codes.Unauthenticated)
			login(t, e.c, "brave-otter", "ann@example.com", "ann-secret-1")
		})
	}
}

// TestPasswordResetEndsLockout locks an account out with wrong passwords
// from one address: after a reset, the new password logs in from that
// address at once.
func TestPasswordResetEndsLockout(t *testing.T) {
	cfg := testConfig(t)
	e := newSignupEnv(t, cfg, &faults{})
	create(t, e.c, e.admin, "brave-otter", "ann@example.com", "ann-secret-1")
	for range cfg.MaxFailures {
		_, err := e.c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: "brave-otter", Id: "ann@example.com", Secret: "not-ann-secret"})
		statustest.WantCode(t, "Token(wrong password)", err, codes.Unauthenticated)
	}
	_, err := e.c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: "brave-otter", Id: "ann@example.com", Secret: "ann-secret-1"})
	statustest.WantCode(t, "Token(right password, locked out)", err, codes.ResourceExhausted)
	code := e.resetCode(t, "ann@example.com", "", 1)
	if _, err := e.reset(t, "ann@example.com", code, "ann-secret-2"); err != nil {
		t.Fatalf("ResetPassword() = %v", err)
	}
	login(t, e.c, "brave-otter", "ann@example.com", "ann-secret-2")
}
